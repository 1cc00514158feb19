// Checks docs/openapi.yaml against the server, both ways:
//
//   node validate.mjs [--routes-only] [--doc FILE] [--sources DIR] [RECORD_DIR]
//
// (--doc and --sources, by default docs/openapi.yaml and daemon/, are for
// tests/api/selftest.mjs.)
//
// 1. Routes: every route in the daemon's routing tables (the `routes[]`
//    arrays of daemon/*.c) is an operation of the document, and every
//    operation is a route.
// 2. Answers: every exchange that the e2e suites recorded
//    (tests/support/httpc.c, COOLINGD_TEST_RECORD_DIR: one JSON line per
//    exchange) is matched to the document's operation by path template and
//    method (HEAD as the GET it stands for), its status must be documented
//    there, its Content-Type must be one of the response's media types, its
//    body must validate against the response's schema (JSON Schema 2020-12,
//    ajv), and a Request-Id, Retry-After or Allow header must be declared by
//    the response (and be there when declared required: Request-Id always). An exchange that matches no path
//    or no method may only be one of the document's
//    x-coolingd-unrouted-responses (404, 405, and the checks before routing).
//
// Exits non-zero on any failure, and when RECORD_DIR holds no exchange.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let docPath = join(root, 'docs', 'openapi.yaml');
let sourceDir = join(root, 'daemon');
let routesOnly = false;
let recordDir;
for (const args = process.argv.slice(2); args.length > 0; ) {
  const a = args.shift();
  if (a === '--routes-only') routesOnly = true;
  else if (a === '--doc' && args.length > 0) docPath = resolve(args.shift());
  else if (a === '--sources' && args.length > 0) sourceDir = resolve(args.shift());
  else if (!a.startsWith('--') && recordDir === undefined) recordDir = a;
  else {
    console.error('usage: node validate.mjs [--routes-only] [--doc FILE] [--sources DIR] [RECORD_DIR]');
    process.exit(2);
  }
}
const docName = docPath.startsWith(root + '/') ? docPath.slice(root.length + 1) : docPath;

const doc = parseYaml(readFileSync(docPath, 'utf8'));
const failures = [];
const fail = (msg) => failures.push(msg);

// ---- JSON pointers and $ref (the document's own, "#/...") ----

function pointerGet(pointer) {
  let node = doc;
  for (const raw of pointer.replace(/^#\/?/, '').split('/').filter((p) => p !== '')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node))
      throw new Error(`${docName}: no ${pointer}`);
    node = node[key];
  }
  return node;
}

// Follows $ref chains of a response object; returns [object, its pointer].
function deref(obj, pointer) {
  while (obj && typeof obj.$ref === 'string') {
    pointer = obj.$ref;
    obj = pointerGet(pointer);
  }
  return [obj, pointer];
}

const escape = (k) => k.replace(/~/g, '~0').replace(/\//g, '~1');

// ---- 1. routes both ways ----

// A route table entry: {.method = EVHTTP_REQ_GET, .pattern = "/v1/lenders/{}/loans", ...}
function serverRoutes() {
  const dir = sourceDir;
  const routes = new Set();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.c'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const table of src.matchAll(/\broutes\s*\[\s*\]\s*=\s*\{([\s\S]*?)\n\};/g)) {
      // an entry's strings may hold braces: "/v1/lenders/{}/loans"
      for (const [entry] of table[1].matchAll(/\{(?:[^{}"]|"[^"]*")*\}/g)) {
        const method = entry.match(/\.method\s*=\s*EVHTTP_REQ_([A-Z]+)/);
        const pattern = entry.match(/\.pattern\s*=\s*"([^"]+)"/);
        if (!method || !pattern) fail(`a route of ${f} without .method or .pattern: ${entry}`);
        else routes.add(`${method[1]} ${pattern[1]}`);
      }
    }
  }
  return routes;
}

// "/v1/lenders/{lender}/loans" -> "/v1/lenders/{}/loans", the server's form
const serverForm = (template) => template.replace(/\{[^}/]+\}/g, '{}');

function documentedRoutes() {
  const ops = new Set();
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const m of METHODS) if (item[m]) ops.add(`${m.toUpperCase()} ${serverForm(path)}`);
  return ops;
}

const server = serverRoutes();
const documented = documentedRoutes();
if (server.size === 0) fail(`no route table found in ${sourceDir}/*.c (routes[] = {...};)`);
for (const r of server)
  if (!documented.has(r)) fail(`route ${r} is served but not in ${docName}`);
for (const r of documented)
  if (!server.has(r)) fail(`operation ${r} is in ${docName} but not a route of the server`);
console.log(`routes: ${server.size} served, ${documented.size} documented`);

// ---- 2. recorded answers ----

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const validators = new Map();
function validatorAt(pointer) {
  if (!validators.has(pointer))
    validators.set(pointer, ajv.compile({ $ref: `openapi${pointer}` }));
  return validators.get(pointer);
}

// Path templates as regular expressions over the raw (not decoded) path:
// a parameter is one non-empty segment.
const templates = Object.keys(doc.paths ?? {}).map((t) => ({
  template: t,
  re: new RegExp(
    '^' +
      t
        .split(/(\{[^}/]+\})/)
        .map((p) => (p.startsWith('{') ? '[^/]+' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  ),
}));

function checkAnswer(ex, response, pointer, where) {
  const [resp, respPtr] = deref(response, pointer);
  const headers = ex.headers ?? {};
  const declared = resp.headers ?? {};
  for (const name of ['Request-Id', 'Retry-After', 'Allow']) {
    const [h] = deref(declared[name], `${respPtr}/headers/${name}`);
    if (headers[name] !== undefined && !h) {
      fail(`${where}: ${name} sent but not declared`);
      continue;
    }
    if (!h) continue;
    if (headers[name] === undefined) {
      if (h.required) fail(`${where}: required header ${name} missing`);
      continue;
    }
    const raw = headers[name];
    const integer = h.schema?.type === 'integer';
    const hptr = declared[name].$ref ?? `${respPtr}/headers/${escape(name)}`;
    const v = validatorAt(`${hptr}/schema`);
    if (integer ? /^[0-9]+$/.test(raw) && v(Number(raw)) : v(raw)) continue;
    fail(`${where}: header ${name}: ${JSON.stringify(raw)} does not fit its schema`);
  }
  const ct = (headers['Content-Type'] ?? '').split(';')[0].trim().toLowerCase();
  const body = ex.body;
  const content = resp.content ?? {};
  if (ex.method === 'HEAD') {
    if (body !== '') fail(`${where}: a body on HEAD`);
    return;
  }
  if (body === '') {
    if (Object.keys(content).length > 0) fail(`${where}: empty body`);
    return;
  }
  if (!content[ct]) {
    fail(`${where}: Content-Type ${JSON.stringify(ct)} not documented (${Object.keys(content).join(', ') || 'no body'})`);
    return;
  }
  if (ct !== 'application/json') return;
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    fail(`${where}: body is not JSON: ${String(body).slice(0, 120)}`);
    return;
  }
  const v = validatorAt(`${respPtr}/content/${escape(ct)}/schema`);
  if (!v(json)) {
    const errs = v.errors
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`)
      .join('; ');
    fail(`${where}: ${errs}; body ${body.slice(0, 300)}`);
  }
}

function checkExchange(ex, where) {
  const path = String(ex.path ?? '').split('?')[0];
  const method = String(ex.method ?? '').toLowerCase();
  const status = String(ex.status);
  const unrouted = doc['x-coolingd-unrouted-responses'] ?? {};
  const match = templates.find((t) => t.re.test(path));
  const item = match ? doc.paths[match.template] : null;
  const op = item ? item[method] ?? (method === 'head' ? item.get : undefined) : undefined;
  where = `${where}: ${ex.method} ${ex.path} -> ${status}`;
  if (!op) {
    // Answers that the document gives for no operation: an unknown path
    // (404), another method (405), the checks in front of routing.
    const allowed = item ? status !== '404' : status !== '405';
    if (unrouted[status] && allowed) {
      checkAnswer(ex, unrouted[status], `#/x-coolingd-unrouted-responses/${status}`, where);
      return;
    }
    fail(`${where}: ${item ? `no ${method.toUpperCase()} operation on ${match.template}` : 'no documented path'}`);
    return;
  }
  const m = op === item[method] ? method : 'get';
  const response = op.responses?.[status];
  if (!response) {
    fail(`${where}: status ${status} not documented for ${m.toUpperCase()} ${match.template}`);
    return;
  }
  checkAnswer(ex, response, `#/paths/${escape(match.template)}/${m}/responses/${status}`, where);
}

let validated = 0;
const byStatus = new Map();
if (!routesOnly) {
  if (!recordDir) {
    console.error('usage: node validate.mjs [--routes-only] RECORD_DIR');
    process.exit(2);
  }
  const files = readdirSync(recordDir).filter((n) => n.endsWith('.jsonl')).sort();
  for (const f of files) {
    const lines = readFileSync(join(recordDir, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${f}:${i + 1}`;
      let ex;
      try {
        ex = JSON.parse(line);
      } catch {
        fail(`${where}: not a JSON line`);
        return;
      }
      validated++;
      byStatus.set(ex.status, (byStatus.get(ex.status) ?? 0) + 1);
      try {
        checkExchange(ex, where);
      } catch (e) {
        fail(`${where}: ${e.message}`);
      }
    });
  }
  if (validated === 0) fail(`no exchange recorded in ${recordDir}`);
}

const shown = failures.slice(0, 200);
for (const f of shown) console.error(`FAIL ${f}`);
if (failures.length > shown.length) console.error(`... and ${failures.length - shown.length} more`);
if (!routesOnly && byStatus.size > 0)
  console.log('by status: ' + [...byStatus].sort((a, b) => a[0] - b[0]).map(([s, k]) => `${s}: ${k}`).join(', '));
if (!routesOnly)
  console.log(`validated ${validated} responses against ${docName}, ${failures.length} failed`);
else console.log(`routes checked against ${docName}, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
