// A webhook receiver as a Node user would write it with node:http and ajv (Ajv2020 + ajv-formats, strict mode),
// validating against the schemas `hookproof export` wrote. Config (a JSON file, argv[2]):
//   {"schemas": [...], "secret": "..." | null, "platforms": {id: {"schemas": [$id, ...], "auth": [scheme, ...]}}}
// POST /<platform>: 415 unless JSON, 400 unless the body is valid against one of the platform's event schemas,
// 401/403 when a secret is set and authentication is missing/wrong (shared secret or HMAC, constant time), else 200.
// Prints "listening <port>" once bound to 127.0.0.1; stops on SIGTERM.
"use strict";
const http = require("node:http");
const crypto = require("node:crypto");
const fs = require("node:fs");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const ajv = new Ajv2020({ strict: true });
addFormats(ajv);
for (const schema of config.schemas) ajv.addSchema(schema);
const validators = {};
for (const [platform, p] of Object.entries(config.platforms)) validators[platform] = p.schemas.map((id) => ajv.getSchema(id));
const MAX_BODY = 1024 * 1024;

function pointer(doc, ptr) {
  let node = doc;
  for (const raw of ptr.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function same(given, expected) {
  const a = Buffer.from(given, "latin1"), b = Buffer.from(expected, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function verifies(scheme, header, raw, body) {
  if (scheme.scheme === "shared-secret") return same(header, config.secret);
  let signed = raw;
  if (scheme.signs !== "body") {
    const value = pointer(body, scheme.signs);
    if (value === undefined || value === null) return false;
    signed = Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8");
  }
  const digest = crypto.createHmac(scheme.algorithm, config.secret).update(signed).digest();
  const hex = digest.toString("hex"), b64 = digest.toString("base64");
  const accepted = scheme.encoding === "base64" ? [b64]
    : scheme.encoding === "hex" ? [hex, hex.toUpperCase()] : [hex, hex.toUpperCase(), b64];
  const given = header.trim();
  return accepted.some((v) => same(given, scheme.prefix + v));
}

function answer(res, status, payload) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(payload));
}

const server = http.createServer((req, res) => {
  const platform = decodeURIComponent(req.url.split("?")[0].slice(1));
  if (req.method !== "POST" || !validators[platform]) return answer(res, req.method === "POST" ? 404 : 405, {});
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) { answer(res, 413, {}); req.destroy(); } else chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.writableEnded) return;
    const raw = Buffer.concat(chunks);
    const type = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") return answer(res, 415, { error: "not JSON" });
    let body;
    try { body = JSON.parse(raw.toString("utf8")); } catch (e) { return answer(res, 400, { error: "malformed JSON" }); }
    const schemes = config.platforms[platform].auth;
    if (config.secret && schemes.length) {
      const given = schemes.filter((s) => req.headers[s.header.toLowerCase()]);
      if (!given.length) return answer(res, 401, { error: "missing authentication" });
      if (!given.every((s) => verifies(s, req.headers[s.header.toLowerCase()], raw, body))) {
        return answer(res, 403, { error: "bad authentication" });
      }
    }
    if (!validators[platform].some((validate) => validate(body))) return answer(res, 400, { error: "invalid" });
    return answer(res, 200, { ok: true });
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
