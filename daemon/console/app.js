// The console's start: the wording, the token, the pages and the router.
// Routes are page names only (#/loan, #/borrower, #/loans, #/decisions):
// no token, IIN or other value of a search ever enters the URL.
import * as api from './api.js';
import { byId, fill } from './dom.js';
import { applyStatic, initialLang, kazakh, setLang, t } from './i18n.js';
import * as borrower from './page_borrower.js';
import * as decisions from './page_decisions.js';
import * as loan from './page_loan.js';
import * as loans from './page_loans.js';

const PAGES = { loan, borrower, loans, decisions };

function route() {
  const name = (location.hash.match(/^#\/([a-z]+)$/) ?? [])[1];
  return name in PAGES ? name : 'loan';
}

function showPage(focus) {
  const current = route();
  for (const name of Object.keys(PAGES)) byId(`page-${name}`).hidden = name !== current;
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${t(`nav.${current}`)} · ${t('app.title')}`;
  if (focus) byId(`h-${current}`).focus();
}

function tokenState() {
  byId('token-state').textContent = api.token() ? t('token.set') : t('token.none');
  byId('token-state').classList.toggle('ok', Boolean(api.token()));
}

function relabel() {
  applyStatic();
  byId('welcome-kk').textContent = kazakh('welcome');
  byId('lang-select').value = document.documentElement.lang;
  tokenState();
  for (const p of Object.values(PAGES)) p.relabel();
  showPage(false);
}

function openLoan(lender, loanId) {
  if (route() !== 'loan') location.hash = '#/loan';
  loan.show(lender, loanId).then(() => byId('h-loan').focus());
}

async function start() {
  await setLang(initialLang(), false);
  byId('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId('token-input');
    const v = input.value.trim();
    input.value = '';
    if (v) api.setToken(v);
    tokenState();
  });
  byId('token-forget').addEventListener('click', () => {
    api.forgetToken();
    tokenState();
  });
  byId('lang-select').addEventListener('change', async (e) => {
    await setLang(e.target.value, true);
    relabel();
  });
  loan.init();
  borrower.init(openLoan);
  loans.init(openLoan);
  decisions.init();
  window.addEventListener('hashchange', () => showPage(true));
  relabel();
  document.body.classList.add('ready');
}

start().catch((e) => {
  fill(byId('main'), String(e?.message ?? e));
});
