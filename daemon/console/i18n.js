// The wording: one file per language (i18n/en.json, i18n/ru.json), and the
// Kazakh welcome line (i18n/kk.json). The language follows the browser's,
// unless the person picks another (kept for this tab).
const LANG_KEY = 'coolingd.console.lang';
export const LANGS = ['en', 'ru'];

let current = 'en';
let words = {};
let kk = {};

export function lang() {
  return current;
}

export function initialLang() {
  const chosen = sessionStorage.getItem(LANG_KEY);
  if (LANGS.includes(chosen)) return chosen;
  const prefs = navigator.languages?.length ? navigator.languages : [navigator.language ?? 'en'];
  for (const p of prefs) {
    const base = String(p).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

async function load(name) {
  const res = await fetch(`i18n/${name}.json`, { credentials: 'omit' });
  if (!res.ok) throw new Error(`i18n/${name}.json: ${res.status}`);
  return res.json();
}

export async function setLang(l, remember) {
  const [w, k] = await Promise.all([load(l), Object.keys(kk).length ? kk : load('kk')]);
  words = w;
  kk = k;
  current = l;
  if (remember) sessionStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l;
}

// t('blocker.cooling_period_active'), t('x', {n: 3}) with "{n}" in the text.
export function t(key, vars) {
  let s = words[key];
  if (s === undefined) return key;
  for (const [k, v] of Object.entries(vars ?? {})) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function has(key) {
  return words[key] !== undefined;
}

export function kazakh(key) {
  return kk[key] ?? '';
}

// The static wording of the page: data-i18n (text) and data-i18n-label
// (aria-label).
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
