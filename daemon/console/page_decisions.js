// Decisions: allowed and refused payouts per hour or per Almaty day
// (GET /v1/stats/decisions), the refusals stacked by blocker, and the same
// figures as a table beside the chart. The chart is Chart.js
// (vendor/chart.umd.min.js, pinned in package-lock.json and embedded).
import * as api from './api.js';
import { byId, fill, h, table } from './dom.js';
import * as fmt from './format.js';
import { has, t } from './i18n.js';

const blockerName = (b) => (has(`blocker_short.${b}`) ? t(`blocker_short.${b}`) : String(b));

let last = null; // {query, buckets, error}
let chart = null;

// Colours that keep 3:1 against white and apart from each other.
const ALLOWED = '#1b7a3d';
const BLOCKER_COLOURS = ['#b3261e', '#c05600', '#7a4fb0', '#0b62a4', '#8a6d00', '#a3296f', '#4d5b6b', '#00796b'];

function blockersOf(buckets) {
  const seen = [];
  for (const b of buckets)
    for (const k of Object.keys(b.refused_by_blocker ?? {}))
      if (!seen.includes(k)) seen.push(k);
  return seen;
}

function drawChart(canvas, buckets, blockers, bucket) {
  if (chart) {
    chart.destroy();
    chart = null;
  }
  if (typeof window.Chart !== 'function') return;
  const labels = buckets.map((b) => fmt.bucketStart(b.start, bucket));
  const datasets = [
    { label: t('decisions.allowed'), data: buckets.map((b) => b.allowed), backgroundColor: ALLOWED, stack: 'allowed' },
    ...blockers.map((k, i) => ({
      label: `${t('decisions.refused')}: ${blockerName(k)}`,
      data: buckets.map((b) => b.refused_by_blocker?.[k] ?? 0),
      backgroundColor: BLOCKER_COLOURS[i % BLOCKER_COLOURS.length],
      stack: 'refused',
    })),
  ];
  const reduce = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
  chart = new window.Chart(canvas, {
    type: 'bar',
    data: { labels, datasets },
    options: {
      animation: reduce ? false : { duration: 300 },
      responsive: true,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom', labels: { color: '#1f2328' } } },
    },
  });
}

function render() {
  const out = byId('decisions-result');
  const err = byId('decisions-error');
  if (!last) {
    fill(out);
    err.hidden = true;
    return;
  }
  if (last.error) {
    if (chart) {
      chart.destroy();
      chart = null;
    }
    fill(out);
    err.hidden = false;
    fill(err, h('p', {}, api.explain(last.error, t)));
    return;
  }
  err.hidden = true;
  const buckets = last.buckets;
  const blockers = blockersOf(buckets);
  const total = { allowed: 0, refused: 0, by: {} };
  for (const b of buckets) {
    total.allowed += b.allowed;
    total.refused += b.refused;
    for (const k of blockers) total.by[k] = (total.by[k] ?? 0) + (b.refused_by_blocker?.[k] ?? 0);
  }
  const summary = t('decisions.summary', { allowed: fmt.count(total.allowed), refused: fmt.count(total.refused) });
  const canvas = h('canvas', { role: 'img', 'aria-label': `${t('decisions.chart')}: ${summary}`, 'data-testid': 'chart' });
  const rows = [...buckets, { start: null, allowed: total.allowed, refused: total.refused, refused_by_blocker: total.by }];
  fill(out,
    h('p', { class: 'summary', 'data-testid': 'summary' }, summary),
    h('div', { class: 'chart-and-table' },
      h('div', { class: 'chart-box' }, canvas),
      table(t('decisions.table'), [
        [t('decisions.start'), (b) => (b.start === null ? t('decisions.total') : fmt.bucketStart(b.start, last.query.bucket))],
        [t('decisions.allowed'), (b) => fmt.count(b.allowed)],
        [t('decisions.refused'), (b) => fmt.count(b.refused)],
        ...blockers.map((k) => [blockerName(k), (b) => fmt.count(b.refused_by_blocker?.[k] ?? 0)]),
      ], rows, { 'data-testid': 'decisions-table' })));
  drawChart(canvas, buckets, blockers, last.query.bucket);
}

async function load(query) {
  const p = new URLSearchParams({ from: fmt.almatyMidnight(query.from), to: fmt.almatyMidnight(query.to), bucket: query.bucket });
  if (query.lender) p.set('lender', query.lender);
  try {
    const body = await api.get(`/v1/stats/decisions?${p}`);
    last = { query, buckets: body.buckets ?? [] };
  } catch (e) {
    last = { query, error: e };
  }
  render();
}

export function init() {
  byId('decisions-from').value = fmt.almatyToday(0);
  byId('decisions-to').value = fmt.almatyToday(1);
  byId('decisions-form').addEventListener('submit', (e) => {
    e.preventDefault();
    load({
      from: byId('decisions-from').value,
      to: byId('decisions-to').value,
      bucket: byId('decisions-bucket').value,
      lender: byId('decisions-lender').value.trim(),
    });
  });
}

export const relabel = render;
