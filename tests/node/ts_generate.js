// json-schema-to-typescript on bundled schemas; stdin: {"schemas": {name: schema}}; prints
// {"typescript": {name: text}, "warnings": [...]}, every console.warn the generator printed counted as a warning.
"use strict";
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));
const { compile } = require("json-schema-to-typescript");

async function main() {
  const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const out = {};
  for (const [name, schema] of Object.entries(input.schemas)) {
    out[name] = await compile(schema, name, { bannerComment: "", additionalProperties: true });
  }
  process.stdout.write(JSON.stringify({ typescript: out, warnings }));
}
main().catch((err) => { console.error(err); process.exit(1); });
