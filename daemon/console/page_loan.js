// Loan: one loan's status, why a payout would be refused now, the acts with
// their Almaty times, a live countdown to the earliest payout, and the audit
// timeline of the loan.
import * as api from './api.js';
import { byId, fill, h, table } from './dom.js';
import * as fmt from './format.js';
import { has, t } from './i18n.js';

let last = null; // {lender, loanId, loan, events, eventsError, error}
let timer = null;
let revealed = false;

// The acts of a loan, in the order they happen, by their timestamp field.
const ACTS = [
  'approved_at', 'consent_at', 'extra_confirmed_at', 'cooling_ends_at', 'reconfirmed_at',
  'trusted_person_confirmed_at', 'control_called_at', 'in_person_verified_at', 'disbursed_at',
  'cancelled_at',
];

// Fields of v1.1 that are shown only when the answer has them.
const OPTIONAL = ['rule', 'exemption', 'lender_kind', 'product', 'aggregated_amount', 'borrower_age',
  'extra_confirmation_required', 'extra_confirmation_method', 'reconfirmation_required',
  'voluntary_refusal_active', 'in_person_reasons', 'fraud_claim_open', 'reconfirmation_method',
  'control_call_required', 'control_call_officer_id'];

export function badge(status) {
  return h('span', { class: `badge badge-${String(status).replace(/[^a-z_]/g, '')}` },
    has(`status.${status}`) ? t(`status.${status}`) : String(status));
}

export function blockerText(b) {
  return has(`blocker.${b}`) ? t(`blocker.${b}`) : String(b);
}

function yesNo(v) {
  if (v === true) return t('yes');
  if (v === false) return t('no');
  return v === null ? '—' : String(v);
}

function optionalValue(k, v, currency) {
  if (k === 'aggregated_amount') return fmt.amount(v, currency || 'KZT');
  if (Array.isArray(v)) return v.length ? v.map((x) => optionalValue(k, x, currency)).join(', ') : '—';
  if (typeof v === 'boolean') return yesNo(v);
  if (v === null) return '—';
  const key = `value.${k}.${v}`;
  return has(key) ? t(key) : String(v);
}

function iinView(iin) {
  const text = h('span', { class: 'iin', 'data-testid': 'loan-iin' }, revealed ? iin : fmt.maskIin(iin));
  const button = h('button', { type: 'button', class: 'link', 'aria-pressed': String(revealed) },
    revealed ? t('iin.hide') : t('iin.reveal'));
  button.addEventListener('click', () => {
    revealed = !revealed;
    render();
    byId('loan-result').querySelector('.iin + button')?.focus();
  });
  return [text, ' ', button];
}

function countdown(loan) {
  const at = loan.earliest_disbursement_at;
  if (loan.status === 'disbursed' || loan.status === 'cancelled') return null;
  if (at === null || at === undefined)
    return h('p', { class: 'countdown waiting' }, t('countdown.act_missing'));
  const end = Date.parse(at);
  const value = h('strong', { id: 'countdown-value', 'data-testid': 'countdown' });
  const box = h('p', { class: 'countdown', role: 'timer', 'aria-live': 'off' },
    h('span', { id: 'countdown-label' }), ' ', value, ' ',
    h('span', { class: 'muted' }, t('countdown.at', { time: fmt.time(at) })));
  const tick = () => {
    const left = end - api.serverNow();
    box.querySelector('#countdown-label').textContent = left > 0 ? t('countdown.in') : t('countdown.now');
    value.textContent = left > 0 ? fmt.duration(left, t('unit.day')) : '';
    value.dataset.seconds = String(Math.max(0, Math.ceil(left / 1000)));
    if (left <= 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
  tick();
  timer = setInterval(tick, 1000);
  return box;
}

function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  if (typeof detail !== 'object') return String(detail);
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('; ');
}

function eventType(type) {
  return has(`event.${type}`) ? t(`event.${type}`) : String(type);
}

function timeline() {
  const head = h('h3', {}, t('loan.timeline'));
  if (last.eventsError) {
    const e = last.eventsError;
    const why = e.kind === 'http' && e.status === 404 ? t('loan.events_unavailable') : api.explain(e, t);
    return [head, h('p', { class: 'error inline', role: 'alert' }, why)];
  }
  if (!last.events) return [head, h('p', { class: 'muted' }, t('loading'))];
  if (last.events.length === 0) return [head, h('p', {}, t('loan.no_events'))];
  return [head, h('ol', { class: 'timeline', 'data-testid': 'timeline' }, last.events.map((e) =>
    h('li', {},
      h('span', { class: 'when' }, fmt.time(e.at)),
      h('span', { class: 'what' }, eventType(e.type)),
      h('span', { class: 'who' }, t('loan.by', { actor: e.actor ?? '—' })),
      e.detail && Object.keys(e.detail).length ? h('span', { class: 'detail' }, detailText(e.detail)) : null)))];
}

function render() {
  if (timer) {
    clearInterval(timer);
    timer = null;
  }
  const out = byId('loan-result');
  const err = byId('loan-error');
  if (!last) {
    fill(out);
    err.hidden = true;
    return;
  }
  if (last.error) {
    fill(out);
    err.hidden = false;
    fill(err, h('p', {}, t('loan.failed', { loan: last.loanId, lender: last.lender })), h('p', {}, api.explain(last.error, t)));
    return;
  }
  err.hidden = true;
  const l = last.loan;
  const rows = [
    [t('field.lender'), l.lender],
    [t('field.iin'), iinView(l.borrower_iin)],
    [t('field.amount'), fmt.amount(l.amount, l.currency)],
    [t('field.channel'), has(`channel.${l.channel}`) ? t(`channel.${l.channel}`) : l.channel],
    [t('field.secured'), yesNo(l.secured)],
    [t('field.first_time_borrower'), yesNo(l.first_time_borrower)],
    [t('field.policy'), l.policy],
    [t('field.threshold_amount'), fmt.amount(l.threshold_amount, l.currency || 'KZT')],
    [t('field.cooling_period'), l.cooling_calendar_zone ? t('loan.until_next_working_day', { zone: l.cooling_calendar_zone })
      : l.cooling_period_seconds ? fmt.duration(l.cooling_period_seconds * 1000, t('unit.day')) : t('loan.not_cooled')],
    [t('field.in_person_required'), yesNo(l.in_person_required)],
  ];
  for (const k of OPTIONAL)
    if (k in l) rows.push([t(`field.${k}`), optionalValue(k, l[k], l.currency)]);
  const blockers = l.blockers ?? [];
  fill(out,
    h('h3', { class: 'loan-title' }, h('span', { 'data-testid': 'loan-id' }, l.loan_id), ' ', badge(l.status)),
    countdown(l),
    h('div', { class: 'cols' },
      h('div', {},
        h('h4', {}, t('loan.blockers')),
        blockers.length
          ? h('ul', { class: 'blockers', 'data-testid': 'blockers' }, blockers.map((b) => h('li', {}, blockerText(b))))
          : h('p', { 'data-testid': 'blockers' }, t('loan.no_blockers')),
        h('h4', {}, t('loan.details')),
        h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      h('div', {},
        table(t('loan.acts'), [
          [t('loan.act'), (k) => t(`act.${k}`)],
          [t('loan.time_almaty'), (k) => h('time', l[k] ? { datetime: l[k] } : {}, fmt.time(l[k]))],
        ], ACTS.filter((k) => k in l), { class: 'acts' }))),
    h('section', { class: 'timeline-box', 'aria-label': t('loan.timeline') }, timeline()));
}

export async function show(lender, loanId) {
  byId('loan-lender').value = lender;
  byId('loan-id').value = loanId;
  revealed = false;
  last = { lender, loanId, loan: null };
  const base = `/v1/lenders/${api.seg(lender)}/loans/${api.seg(loanId)}`;
  try {
    last.loan = await api.get(base);
  } catch (e) {
    last.error = e;
    render();
    return;
  }
  const mine = last;
  render();
  try {
    const ev = await api.get(`${base}/events`);
    mine.events = ev.events ?? [];
  } catch (e) {
    mine.eventsError = e;
  }
  if (mine === last) render();
}

export function init() {
  byId('loan-form').addEventListener('submit', (e) => {
    e.preventDefault();
    show(byId('loan-lender').value.trim(), byId('loan-id').value.trim());
  });
}

export const relabel = render;
