// Parse AsyncAPI documents with the official parser (@asyncapi/parser); stdin: {"documents": {name: text}};
// prints {"diagnostics": {name: [{severity, code, message, path}]}} (severity 0 is an error, 1 a warning).
"use strict";
const { Parser } = require("@asyncapi/parser");

async function main() {
  const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const parser = new Parser();
  const out = {};
  for (const [name, text] of Object.entries(input.documents)) {
    const { document, diagnostics } = await parser.parse(text);
    out[name] = diagnostics.map((d) => ({ severity: d.severity, code: String(d.code), message: d.message,
      path: d.path.join("/") }));
    if (!document) out[name].push({ severity: 0, code: "no-document", message: "not parsed", path: "" });
  }
  process.stdout.write(JSON.stringify({ diagnostics: out, parser: require("@asyncapi/parser/package.json").version }));
}
main().catch((err) => { console.error(err); process.exit(1); });
