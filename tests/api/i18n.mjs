// Every value of the API that the console names in words has its words in
// each of the console's languages (LANGS of daemon/console/i18n.js, whose
// words are i18n/<lang>.json): a new status, blocker, rule, exemption,
// product or in-person reason that the document gains without them would
// show as its bare name.
//
//   node i18n.mjs [--doc FILE] [--i18n DIR]
//
// The values are read from docs/openapi.yaml's schemas: LoanStatus
// (status.X), Blocker and RequestBlocker (blocker.X, blocker_short.X), and
// the Loan's rule, exemption, product and in_person_reasons
// (value.<field>.X). Exits non-zero on a missing string, and when a schema
// it reads has no values (the document was reshaped under it).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const docPath = resolve(opt('--doc', join(here, '../../docs/openapi.yaml')));
const i18nDir = resolve(opt('--i18n', join(here, '../../daemon/console/i18n')));

const doc = parseYaml(readFileSync(docPath, 'utf8'));
const schemas = doc.components?.schemas ?? {};
const problems = [];

// The enum of a schema, or of an object schema's property (items for arrays).
function values(what, schema) {
  let s = schema;
  if (s?.items) s = s.items;
  const list = (s?.enum ?? []).filter((v) => v !== null);
  if (list.length === 0) problems.push(`${what}: no values in ${docPath}`);
  return list;
}
const loan = schemas.Loan?.properties ?? {};
const product = loan.product?.$ref ? schemas.Product : loan.product;
const wanted = [
  ...values('LoanStatus', schemas.LoanStatus).map((v) => `status.${v}`),
  ...[...values('Blocker', schemas.Blocker), ...values('RequestBlocker', schemas.RequestBlocker)].flatMap(
    (v) => [`blocker.${v}`, `blocker_short.${v}`],
  ),
  ...values('Loan.rule', loan.rule).map((v) => `value.rule.${v}`),
  ...values('Loan.exemption', loan.exemption).map((v) => `value.exemption.${v}`),
  ...values('Loan.product', product).map((v) => `value.product.${v}`),
  ...values('Loan.in_person_reasons', loan.in_person_reasons).map((v) => `value.in_person_reasons.${v}`),
];

// the console's languages, as daemon/console/i18n.js offers them
const langs = /export const LANGS = \[([^\]]*)\]/.exec(readFileSync(join(i18nDir, '../i18n.js'), 'utf8'));
const files = (langs ? [...langs[1].matchAll(/'([a-z]+)'/g)].map((m) => `${m[1]}.json`) : []).sort();
if (files.length === 0) problems.push(`no language in ${i18nDir}/../i18n.js's LANGS`);
for (const f of files) {
  const strings = JSON.parse(readFileSync(join(i18nDir, f), 'utf8'));
  for (const key of wanted) {
    if (typeof strings[key] !== 'string' || strings[key].trim() === '') problems.push(`${f}: no string for ${key}`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(`i18n: ${p}`);
  process.exit(1);
}
console.log(`i18n: ${wanted.length} values have their strings in ${files.join(', ')}`);
