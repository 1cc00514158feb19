// Borrower: every loan of one IIN, newest first, with its status, and for
// an auditor who looked at this person (the personal-data access log). The
// IIN is shown masked until a click reveals it, and it is in no URL at all:
// not the console's own (location, hash, history), nor any it requests
// (the look-ups are POSTs with the IIN in the body).
import * as api from './api.js';
import { byId, fill, h, table } from './dom.js';
import * as fmt from './format.js';
import { t } from './i18n.js';
import { badge, blockerText } from './page_loan.js';

let last = null; // {iin, loans, error, access: entries or null (not an auditor)}
let revealed = false;
let openLoan = () => {};

function render() {
  const out = byId('borrower-result');
  const err = byId('borrower-error');
  if (!last) {
    fill(out);
    err.hidden = true;
    return;
  }
  const who = h('span', { class: 'iin', 'data-testid': 'borrower-iin' }, revealed ? last.iin : fmt.maskIin(last.iin));
  const reveal = h('button', { type: 'button', class: 'link', 'aria-pressed': String(revealed), 'data-testid': 'reveal' },
    revealed ? t('iin.hide') : t('iin.reveal'));
  reveal.addEventListener('click', () => {
    revealed = !revealed;
    render();
    byId('borrower-result').querySelector('[data-testid=reveal]')?.focus();
  });
  if (last.error) {
    fill(out);
    err.hidden = false;
    fill(err, h('p', {}, t('borrower.failed', { iin: fmt.maskIin(last.iin) })), h('p', {}, api.explain(last.error, t)));
    return;
  }
  err.hidden = true;
  const loans = last.loans;
  const withRefusal = loans.find((l) => 'voluntary_refusal_active' in l);
  fill(out,
    h('h3', {}, t('borrower.heading'), ' ', who, ' ', reveal),
    withRefusal
      ? h('p', { class: withRefusal.voluntary_refusal_active ? 'refusal active' : 'refusal', 'data-testid': 'refusal' },
        withRefusal.voluntary_refusal_active ? t('borrower.refusal_active') : t('borrower.refusal_none'))
      : null,
    loans.length === 0
      ? h('p', {}, t('borrower.none'))
      : table(t('borrower.loans', { n: loans.length }), [
        [t('field.loan_id'), (l) => {
          const b = h('button', { type: 'button', class: 'link' }, l.loan_id);
          b.addEventListener('click', () => openLoan(l.lender, l.loan_id));
          return b;
        }],
        [t('field.lender'), (l) => l.lender],
        [t('field.amount'), (l) => h('span', { class: 'nowrap' }, fmt.amount(l.amount, l.currency))],
        [t('field.approved_at'), (l) => fmt.time(l.approved_at)],
        [t('field.status'), (l) => badge(l.status)],
        [t('loan.blockers'), (l) => ((l.blockers ?? []).length
          ? h('ul', { class: 'cell-list' }, l.blockers.map((b) => h('li', {}, blockerText(b))))
          : '—')],
      ], loans, { 'data-testid': 'borrower-loans' }),
    accessSection(last.access));
}

// "Who looked at this person": only an auditor's token may read it; null
// for any other, and the section is left out.
function accessSection(access) {
  if (access === null || access === undefined) return null;
  if (access instanceof Error) {
    return h('section', { 'data-testid': 'access-log' }, h('h3', {}, t('access.heading')),
      h('p', { class: 'error', role: 'alert' }, api.explain(access, t)));
  }
  return h('section', { 'data-testid': 'access-log' },
    h('h3', {}, t('access.heading')),
    h('p', { class: 'help' }, t('access.help')),
    access.length === 0
      ? h('p', {}, t('access.none'))
      : table(t('access.entries', { n: access.length }), [
        [t('access.at'), (e) => fmt.time(e.at)],
        [t('access.client'), (e) => e.client],
        [t('access.role'), (e) => t(`access.role.${e.role}`)],
        [t('access.what'), (e) => (e.loan_id ? t('access.what_loan', { lender: e.lender, loan_id: e.loan_id })
          : t(e.route === 'fraud-claim' ? 'access.what_claim' : 'access.what_lookup'))],
      ], access, { 'data-testid': 'access-entries' }));
}

// Every page of the IIN's entries, oldest first; null when this token may
// not read the log (403).
async function whoLooked(iin) {
  const entries = [];
  let after = null;
  try {
    for (let page = 0; page < 50; page++) {
      const body = await api.post('/v1/access-log/search', { borrower_iin: iin, limit: 1000, after });
      entries.push(...(body.entries ?? []));
      after = body.next;
      if (!after) break;
    }
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 403) return null;
    return e;
  }
  return entries;
}

async function lookup(iin) {
  revealed = false;
  last = { iin, loans: [] };
  try {
    const body = await api.post('/v1/borrowers/search', { borrower_iin: iin });
    last.loans = body.loans ?? [];
    // after the look-up, so that it is among the entries shown
    last.access = await whoLooked(iin);
  } catch (e) {
    last.error = e;
  }
  render();
}

export function init(open) {
  openLoan = open;
  byId('borrower-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId('borrower-iin');
    const iin = input.value.replace(/\s+/g, '');
    lookup(iin);
  });
}

export const relabel = render;
