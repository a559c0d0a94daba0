// Verdicts of ajv (Ajv2020 + ajv-formats, strict mode) on [schema $id, instance] pairs, the schemas given
// whole on stdin as {"schemas": [...], "cases": [[id, instance], ...]}; prints {"valid": [bool, ...]}.
// A schema that does not compile in strict mode is an error (exit 1), never a verdict.
"use strict";
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const ajv = new Ajv2020({ strict: true, allErrors: false });
addFormats(ajv);
for (const schema of input.schemas) ajv.addSchema(schema);
const compiled = new Map();
for (const schema of input.schemas) compiled.set(schema.$id, ajv.getSchema(schema.$id));  // every one compiles
const valid = input.cases.map(([id, instance]) => {
  if (!compiled.has(id)) {
    const validate = ajv.getSchema(id);
    if (!validate) throw new Error(`no schema ${id}`);
    compiled.set(id, validate);
  }
  return compiled.get(id)(instance);
});
process.stdout.write(JSON.stringify({ valid, ajv: require("ajv/package.json").version,
  "ajv-formats": require("ajv-formats/package.json").version }));
