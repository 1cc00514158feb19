// Numbers, times and IINs as people read them. Times are shown in Almaty
// local time, the time zone whose local date picks the MRP.
import { lang } from './i18n.js';

export const ZONE = 'Asia/Almaty';

const locale = () => (lang() === 'ru' ? 'ru-RU' : 'en-GB');

export function time(ts) {
  if (ts === null || ts === undefined) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return new Intl.DateTimeFormat(locale(), {
    timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(d);
}

export function bucketStart(ts, bucket) {
  const d = new Date(ts);
  const opts = bucket === 'day'
    ? { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }
    : { timeZone: ZONE, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return new Intl.DateTimeFormat(locale(), opts).format(d);
}

// "600000.00" → "600 000.00"; the API's decimal string is kept exact.
export function amount(s, currency) {
  if (typeof s !== 'string') return '—';
  const [whole, frac] = s.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${grouped}${frac !== undefined ? (lang() === 'ru' ? ',' : '.') + frac : ''}${currency ? ` ${currency}` : ''}`;
}

export function count(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

// 9001******26, as the daemon masks IINs in its logs.
export function maskIin(iin) {
  const s = String(iin ?? '');
  return s.length === 12 ? `${s.slice(0, 4)}******${s.slice(10)}` : '************';
}

// Milliseconds → "1 d 02:03:04" or "02:03:04".
export function duration(ms, dayWord) {
  let s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${d > 0 ? `${d} ${dayWord} ` : ''}${hh}:${mm}:${ss}`;
}

// The Almaty offset at an instant, "+05:00", from the time zone database.
function offsetAt(ms) {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: ZONE, timeZoneName: 'longOffset' })
    .formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  const m = /GMT([+-]\d{2}):?(\d{2})?/.exec(part?.value ?? '');
  return m ? `${m[1]}:${m[2] ?? '00'}` : '+05:00';
}

// "2026-11-29" (an Almaty local date) → "2026-11-29T00:00:00+05:00".
export function almatyMidnight(date) {
  const guess = Date.parse(`${date}T00:00:00Z`) - 5 * 3600 * 1000;
  return `${date}T00:00:00${offsetAt(guess)}`;
}

// Today's Almaty local date, "YYYY-MM-DD".
export function almatyToday(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400 * 1000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
