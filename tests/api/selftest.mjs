// Shows that tests/api/validate.mjs can fail: answers that fit
// docs/openapi.yaml pass, and each answer, route table and record folder
// that does not fit makes it exit 1 with the reason; and that i18n.mjs
// fails on a blocker and a rule the console has no words for. Run by
// tests/api/check.sh selftest (CTest api_validator_selftest).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'coolingd-api-selftest-'));
let failed = 0;
let passed = 0;

function run(args, script = 'validate.mjs') {
  const r = spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function expect(name, args, status, needle, script) {
  const r = run(args, script);
  if (r.status === status && (needle === undefined || r.out.includes(needle))) {
    passed++;
    return;
  }
  failed++;
  console.error(`selftest ${name}: wanted exit ${status}${needle ? ` and "${needle}"` : ''}, got ${r.status}:\n${r.out}`);
}

let n = 0;
function records(lines) {
  const dir = join(tmp, `rec${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'x-1.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return dir;
}

const rid = { 'Request-Id': '3f2c9a0d5b7e4f1a8c6d2e0b9a7f5c31' };
const json = { 'Content-Type': 'application/json', ...rid };
const loan = {
  lender: 'BANK1', loan_id: 'LN-1', borrower_iin: '900101300126', amount: '600000.00',
  currency: 'KZT', channel: 'online', secured: false, first_time_borrower: true, status: 'cooling',
  cooling_required: true, cooling_period_seconds: 86400, threshold_amount: '589800.00', mrp: 3932,
  policy: 'kz-card', approved_at: '2025-06-15T05:00:00Z', consent_at: '2025-06-15T05:05:00Z',
  cooling_ends_at: '2025-06-16T05:05:00Z', in_person_required: false, in_person_verified_at: null,
  disbursed_at: null, cancelled_at: null, blockers: ['cooling_period_active'],
  earliest_disbursement_at: '2025-06-16T05:05:00Z', voluntary_refusal_active: false, in_person_reasons: [], fraud_claim_open: false,
};
const ex = (method, path, status, body, headers = json) => ({
  method, path, status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) + '\n',
});
const err = (code, field) => ({ error: { code, message: 'm', ...(field ? { field } : {}), request_id: rid['Request-Id'] } });
const refused = { decision: 'refused', blockers: ['cooling_period_active'], earliest_disbursement_at: loan.cooling_ends_at, loan };
const good = [
  ex('GET', '/healthz', 200, { status: 'ok' }),
  ex('HEAD', '/healthz', 200, ''),
  ex('POST', '/v1/lenders/BANK1/loans', 201, loan),
  ex('GET', '/v1/lenders/BANK1/loans/LN-1', 200, loan),
  ex('POST', '/v1/lenders/BANK1/loans/LN-1/disbursement', 409, refused, { ...json, 'Retry-After': '60' }),
  ex('GET', '/v1/audit?after=0&limit=5', 200, { events: [], next_after: 0 }),
  ex('GET', '/nowhere', 404, err('not_found')),
  ex('DELETE', '/v1/lenders/BANK1/loans/LN-1', 405, err('method_not_allowed'), { ...json, Allow: 'GET' }),
  ex('POST', '/v1/lenders/BANK1/loans', 413, '<HTML>too large</HTML>', { 'Content-Type': 'text/html', ...rid }),
  ex('POST', '/v1/lenders/BANK1/loans', 422, err('validation_failed', 'amount')),
  ex('POST', '/v1/lenders/BANK1/loans/LN-1/consent', 409, { error: { ...err('invalid_state').error, reason: 'cancelled' } }),
  ex('GET', '/v1/lenders/BANK1/loans?status=cooling', 200, { loans: [loan], next: null }),
];
expect('good answers', [records(good)], 0, `validated ${good.length} responses against docs/openapi.yaml, 0 failed`);

const bad = {
  'undocumented status': [ex('GET', '/v1/audit', 201, { events: [], next_after: 0 }), 'status 201 not documented'],
  'unknown field in an answer': [ex('GET', '/v1/lenders/BANK1/loans/LN-1', 200, { ...loan, extra: 1 }), 'additional properties (extra)'],
  'a field missing': [ex('GET', '/v1/lenders/BANK1/loans/LN-1', 200, { ...loan, mrp: undefined }), "required property 'mrp'"],
  'amount with one decimal': [ex('GET', '/v1/lenders/BANK1/loans/LN-1', 200, { ...loan, amount: '600000.0' }), '/amount must match pattern'],
  'timestamp with an offset': [ex('GET', '/v1/lenders/BANK1/loans/LN-1', 200, { ...loan, approved_at: '2025-06-15T10:00:00+05:00' }), '/approved_at must match pattern'],
  'error code of another status': [ex('POST', '/v1/lenders/BANK1/loans', 409, err('not_found')), '/error/code must be equal to constant'],
  '422 without field': [ex('POST', '/v1/lenders/BANK1/loans', 422, err('validation_failed')), "required property 'field'"],
  'undocumented media type': [ex('GET', '/healthz', 200, 'ok', { 'Content-Type': 'text/plain' }), 'Content-Type "text/plain" not documented'],
  'not JSON': [ex('GET', '/healthz', 200, '{"status":'), 'body is not JSON'],
  'empty body': [ex('GET', '/healthz', 200, ''), 'empty body'],
  'Retry-After not declared': [ex('GET', '/healthz', 200, { status: 'ok' }, { ...json, 'Retry-After': '1' }), 'Retry-After sent but not declared'],
  'Retry-After not a number': [ex('POST', '/v1/lenders/BANK1/loans/LN-1/disbursement', 409, refused, { ...json, 'Retry-After': 'soon' }), 'header Retry-After'],
  '405 without Allow': [ex('DELETE', '/v1/lenders/BANK1/loans/LN-1', 405, err('method_not_allowed')), 'required header Allow missing'],
  'an answer without Request-Id': [ex('GET', '/healthz', 200, { status: 'ok' }, { 'Content-Type': 'application/json' }), 'required header Request-Id missing'],
  'a Request-Id that is no identifier': [ex('GET', '/healthz', 200, { status: 'ok' }, { ...json, 'Request-Id': 'a b' }), 'header Request-Id'],
  'an error without request_id': [ex('GET', '/nowhere', 404, { error: { code: 'not_found', message: 'm' } }), "required property 'request_id'"],
  'invalid_state without reason': [ex('POST', '/v1/lenders/BANK1/loans/LN-1/consent', 409, err('invalid_state')), "required property 'reason'"],
  'a reason of no list': [ex('POST', '/v1/lenders/BANK1/loans/LN-1/consent', 409, { error: { ...err('invalid_state').error, reason: 'because' } }), '/error/reason must be equal to one of the allowed values'],
  'no such path': [ex('GET', '/v2/loans', 200, { loans: [] }), 'no documented path'],
  'no such method': [ex('PUT', '/v1/audit', 200, { events: [], next_after: 0 }), 'no PUT operation on /v1/audit'],
  '404 on a known path and method, wrong shape': [ex('GET', '/v1/lenders/BANK1/loans/LN-1', 404, { error: 'no' }), '/error must be object'],
};
for (const [name, [line, needle]] of Object.entries(bad))
  expect(name, [records([...good, line])], 1, needle);

const empty = join(tmp, 'empty');
mkdirSync(empty);
expect('nothing recorded', [empty], 1, 'no exchange recorded');

// Route tables: one the document lacks, and one missing from the server.
function sources(edit) {
  const dir = join(tmp, `src${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'route.c'), edit(readFileSync(join(root, 'daemon', 'route.c'), 'utf8')));
  return dir;
}
expect('routes as served', ['--routes-only'], 0, '0 failed');
expect('a route the document lacks', ['--routes-only', '--sources', sources((s) =>
  s.replace('const struct route routes[] = {', 'const struct route routes[] = {\n    {.method = EVHTTP_REQ_GET, .pattern = "/v1/secret", .name = "secret",\n     .flags = RF_PUBLIC, .handler = h_healthz},'))],
  1, 'route GET /v1/secret is served but not in docs/openapi.yaml');
expect('an operation the server lacks', ['--routes-only', '--sources', sources((s) =>
  s.replace(/\{\.method = EVHTTP_REQ_GET, \.pattern = "\/v1\/audit"[^}]*\},/, ''))],
  1, 'operation GET /v1/audit is in docs/openapi.yaml but not a route of the server');
expect('a route the check cannot read', ['--routes-only', '--sources', sources((s) =>
  s.replace('.pattern = "/readyz", ', ''))],
  1, 'without .method or .pattern');
const doc = join(tmp, 'openapi.yaml');
copyFileSync(join(root, 'docs', 'openapi.yaml'), doc);
writeFileSync(doc, readFileSync(doc, 'utf8').replace('  /v1/loans:\n    get:', '  /v1/loans:\n    put:'));
expect('a method the server does not take', ['--routes-only', '--doc', doc], 1, 'operation PUT /v1/loans is in');

// i18n.mjs: a blocker and a rule the console has no words for
expect('the console has words for every value', [], 0, 'values have their strings', 'i18n.mjs');
const worded = join(tmp, 'worded.yaml');
writeFileSync(worded, readFileSync(join(root, 'docs', 'openapi.yaml'), 'utf8')
  .replace(/(    Blocker:\n(?:      .*\n)*?      enum: \[)/, '$1new_blocker, ')
  .replace(/(enum: \[card, )/, '$1new_rule, '));
expect('a blocker without words', ['--doc', worded], 1, 'ru.json: no string for blocker_short.new_blocker', 'i18n.mjs');
expect('a rule without words', ['--doc', worded], 1, 'en.json: no string for value.rule.new_rule', 'i18n.mjs');

rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
