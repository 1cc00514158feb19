// Loans: GET /v1/loans with its filters (status, lender, approved from/to as
// Almaty local dates), page by page with the answer's `next` cursor.
import * as api from './api.js';
import { byId, fill, h, table } from './dom.js';
import * as fmt from './format.js';
import { t } from './i18n.js';
import { badge } from './page_loan.js';

export const STATUSES = ['cancelled', 'disbursed', 'blocked_by_refusal', 'blocked_by_fraud_claim', 'awaiting_consent',
  'awaiting_extra_confirmation', 'cooling', 'awaiting_control_call', 'blocked_by_other_loan', 'awaiting_reconfirmation',
  'awaiting_in_person', 'eligible'];

let query = null; // the filters of the search shown
let cursors = []; // cursors[i]: the `after` of page i (undefined for the first)
let page = 0;
let last = null; // {loans, next, error}
let openLoan = () => {};

function queryString(after) {
  const p = new URLSearchParams();
  if (query.status) p.set('status', query.status);
  if (query.lender) p.set('lender', query.lender);
  if (query.from) p.set('from', fmt.almatyMidnight(query.from));
  if (query.to) p.set('to', fmt.almatyMidnight(query.to));
  p.set('limit', query.limit);
  if (after !== undefined && after !== null) p.set('after', after);
  return p.toString();
}

async function load() {
  try {
    const body = await api.get(`/v1/loans?${queryString(cursors[page])}`);
    last = { loans: body.loans ?? [], next: body.next ?? null };
  } catch (e) {
    last = { error: e };
  }
  render();
}

function render() {
  const out = byId('loans-result');
  const err = byId('loans-error');
  if (!last) {
    fill(out);
    err.hidden = true;
    return;
  }
  if (last.error) {
    fill(out);
    err.hidden = false;
    fill(err, h('p', {}, api.explain(last.error, t)));
    return;
  }
  err.hidden = true;
  const prev = h('button', { type: 'button', class: 'secondary', disabled: page === 0, 'data-testid': 'prev' }, t('paging.prev'));
  const next = h('button', { type: 'button', class: 'secondary', disabled: last.next === null, 'data-testid': 'next' }, t('paging.next'));
  prev.addEventListener('click', () => {
    page -= 1;
    load().then(() => byId('loans-result').querySelector('[data-testid=prev]')?.focus());
  });
  next.addEventListener('click', () => {
    cursors[page + 1] = last.next;
    page += 1;
    load().then(() => {
      const b = byId('loans-result').querySelector('[data-testid=next]');
      (b && !b.disabled ? b : byId('loans-result').querySelector('[data-testid=prev]'))?.focus();
    });
  });
  fill(out,
    last.loans.length === 0
      ? h('p', {}, t('loans.none'))
      : table(t('loans.caption', { page: page + 1 }), [
        [t('field.loan_id'), (l) => {
          const b = h('button', { type: 'button', class: 'link' }, l.loan_id);
          b.addEventListener('click', () => openLoan(l.lender, l.loan_id));
          return b;
        }],
        [t('field.lender'), (l) => l.lender],
        [t('field.iin'), (l) => h('span', { class: 'iin nowrap' }, fmt.maskIin(l.borrower_iin))],
        [t('field.amount'), (l) => h('span', { class: 'nowrap' }, fmt.amount(l.amount, l.currency))],
        [t('field.approved_at'), (l) => fmt.time(l.approved_at)],
        [t('field.status'), (l) => badge(l.status)],
      ], last.loans, { 'data-testid': 'loans-table' }),
    h('nav', { class: 'paging', 'aria-label': t('paging.label') },
      prev, h('span', { 'data-testid': 'page' }, t('paging.page', { page: page + 1 })), next));
}

function statusOptions() {
  const sel = byId('loans-status');
  const keep = sel.value;
  fill(sel, h('option', { value: '' }, t('status.any')), STATUSES.map((s) => h('option', { value: s }, t(`status.${s}`))));
  sel.value = keep;
}

export function init(open) {
  openLoan = open;
  statusOptions();
  byId('loans-form').addEventListener('submit', (e) => {
    e.preventDefault();
    query = {
      status: byId('loans-status').value,
      lender: byId('loans-lender').value.trim(),
      from: byId('loans-from').value,
      to: byId('loans-to').value,
      limit: byId('loans-limit').value,
    };
    cursors = [];
    page = 0;
    load();
  });
}

export function relabel() {
  statusOptions();
  render();
}
