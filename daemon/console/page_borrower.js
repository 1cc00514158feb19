// Borrower: every loan of one IIN, newest first, with its status. The IIN is
// shown masked until a click reveals it, and it never enters the console's
// own URL (location, hash, history): the API's path needs it, nothing else.
import * as api from './api.js';
import { byId, fill, h, table } from './dom.js';
import * as fmt from './format.js';
import { t } from './i18n.js';
import { badge, blockerText } from './page_loan.js';

let last = null; // {iin, loans, error}
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
      ], loans, { 'data-testid': 'borrower-loans' }));
}

async function lookup(iin) {
  revealed = false;
  last = { iin, loans: [] };
  try {
    const body = await api.get(`/v1/borrowers/${api.seg(iin)}/loans`);
    last.loans = body.loans ?? [];
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
