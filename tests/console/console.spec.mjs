// The web console in a real browser (Debian's Chromium) against a real
// coolingd: the headers of its files, each page with the fixture's loans,
// the errors of the API in words, the two languages, and where the token
// and the IIN may and may not go.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fixture } from './support.mjs';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

let f;
const pages = [];
async function open(width) {
  const p = await f.open(width);
  pages.push(p);
  return p;
}

// The contrast of every text on the page against the background it is
// drawn on (WCAG 2.x: 4.5:1 for normal text, 3:1 from 24px or 18.66px bold).
async function contrastFailures(page) {
  return page.evaluate(() => {
    const rgb = (s) => (s.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const c = [r, g, b].map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || el.closest('[hidden], .skip, .visually-hidden, script, option')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const s = getComputedStyle(el);
      const fg = rgb(s.color).slice(0, 3);
      const [a, b] = [lum(fg), lum(bgOf(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${n.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
    }
    return bad;
  });
}

async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.id || el.outerHTML));
}

async function lookUpLoan(page, lender, loanId) {
  await page.click('nav a[data-route=loan]');
  await page.fill('#loan-lender', lender);
  await page.fill('#loan-id', loanId);
  await page.click('#loan-form button[type=submit]');
}

describe('the web console', () => {
  before(async () => {
    f = await fixture();
  });

  test('GET /console redirects to /console/', async () => {
    const r = await fetch(`${f.base}/console`, { redirect: 'manual' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get('location'), '/console/');
  });

  test('the files are served with their type, an ETag and the security headers', async () => {
    for (const [path, type] of [['/console/', 'text/html; charset=utf-8'], ['/console/app.js', 'text/javascript; charset=utf-8'],
      ['/console/style.css', 'text/css; charset=utf-8'], ['/console/i18n/ru.json', 'application/json; charset=utf-8'],
      ['/console/vendor/chart.umd.min.js', 'text/javascript; charset=utf-8']]) {
      const r = await fetch(`${f.base}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type'), type, path);
      assert.equal(r.headers.get('content-security-policy'), CSP, path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(r.headers.get('cache-control'), 'no-cache', path);
      assert.match(r.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/, path);
      assert.ok((await r.arrayBuffer()).byteLength > 0, path);
    }
    const html = await (await fetch(`${f.base}/console/`)).text();
    assert.doesNotMatch(html, /style=|<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script or style in index.html');
  });

  test('If-None-Match with the ETag answers 304 without a body; another ETag 200', async () => {
    const first = await fetch(`${f.base}/console/app.js`);
    const etag = first.headers.get('etag');
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const r = await fetch(`${f.base}/console/app.js`, { headers: { 'If-None-Match': inm } });
      assert.equal(r.status, 304, inm);
      assert.equal(r.headers.get('etag'), etag);
      assert.equal((await r.arrayBuffer()).byteLength, 0);
    }
    const other = await fetch(`${f.base}/console/app.js`, { headers: { 'If-None-Match': '"0123"' } });
    assert.equal(other.status, 200);
    const css = await fetch(`${f.base}/console/style.css`, { headers: { 'If-None-Match': etag } });
    assert.equal(css.status, 200, "one file's ETag is not another's");
  });

  test('an unknown file of the console is 404', async () => {
    for (const path of ['/console/nothing.js', '/console/i18n/de.json', '/console/../console/app.js.map']) {
      const r = await fetch(`${f.base}${path}`);
      assert.equal(r.status, 404, path);
    }
  });

  test('a cooling loan: status, blockers in words, Almaty times, and a countdown that decreases', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    assert.equal(await page.inputValue('#token-input'), '', 'the field is emptied once the token is kept');
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('[data-testid=countdown]');
    assert.equal(await page.textContent('[data-testid=loan-id]'), 'LN-COOL-1');
    assert.equal(await page.textContent('.loan-title .badge'), 'cooling');
    assert.deepEqual(await page.$$eval('[data-testid=blockers] li', (l) => l.map((x) => x.textContent)),
      ['The cooling period is still running.']);
    // the loan's approval time, as Almaty shows it
    const loan = (await f.api('GET', '/v1/lenders/BANK1/loans/LN-COOL-1', f.tokens.compliance)).body;
    const almaty = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Almaty', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(loan.approved_at));
    assert.ok((await page.textContent('table.acts')).includes(almaty), `approved_at ${almaty} in the acts`);
    const first = Number(await page.getAttribute('[data-testid=countdown]', 'data-seconds'));
    // 2 h after the consent, less the second or two since (rounded up:
    // 02:00:00 in the consent's first second)
    assert.match(await page.textContent('[data-testid=countdown]'), /^(0?1:5\d:\d\d|02:00:00)$/);
    assert.ok(first > 7000 && first <= 7200, `about 2 h left, ${first} s`);
    await page.waitForTimeout(2300);
    const second = Number(await page.getAttribute('[data-testid=countdown]', 'data-seconds'));
    assert.ok(second < first && second >= first - 4, `the countdown went from ${first} to ${second}`);
    await page.waitForSelector('[data-testid=timeline], .timeline-box .error');
    await f.screenshot(page, 'console-loan-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await f.screenshot(page, 'console-loan-390');
    assert.deepEqual(await contrastFailures(page), []);
    assert.deepEqual(await unlabelled(page), []);
  });

  test('a borrower: loans newest first, the IIN masked until revealed, and never in the URL', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    await page.click('nav a[data-route=borrower]');
    await page.fill('#borrower-iin', f.iin);
    await page.click('#borrower-form button[type=submit]');
    await page.waitForSelector('[data-testid=borrower-loans]');
    const masked = `${f.iin.slice(0, 4)}******${f.iin.slice(10)}`;
    assert.equal(await page.textContent('[data-testid=borrower-iin]'), masked);
    assert.ok(!(await page.textContent('body')).includes(f.iin), 'the full IIN is nowhere on the page');
    const ids = await page.$$eval('[data-testid=borrower-loans] tbody tr td:first-child', (l) => l.map((x) => x.textContent));
    assert.deepEqual(ids, ['LN-COOL-1', 'LN-PAID-1', 'LN-WAIT-1', 'LN-CANCEL-1', 'LN-B2-1']);
    const badges = await page.$$eval('[data-testid=borrower-loans] .badge', (l) => l.map((x) => x.textContent));
    assert.deepEqual(badges, ['cooling', 'paid out', 'awaiting consent', 'cancelled', 'awaiting consent']);
    await f.screenshot(page, 'console-borrower-1280');
    await page.click('[data-testid=reveal]');
    assert.equal(await page.textContent('[data-testid=borrower-iin]'), f.iin);
    assert.equal(await page.getAttribute('[data-testid=reveal]', 'aria-pressed'), 'true');
    await page.click('[data-testid=reveal]');
    assert.equal(await page.textContent('[data-testid=borrower-iin]'), masked);
    await page.setViewportSize({ width: 390, height: 844 });
    await f.screenshot(page, 'console-borrower-390');
    assert.ok(!page.url().includes(f.iin));
    const history = await page.evaluate(() => [location.href, history.length, JSON.stringify(history.state)]);
    assert.ok(!JSON.stringify(history).includes(f.iin));
    // a click on a loan opens it on the Loan page
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.click('[data-testid=borrower-loans] button:text("LN-PAID-1")');
    await page.waitForSelector('[data-testid=loan-id]:text("LN-PAID-1")');
    assert.equal(await page.textContent('.loan-title .badge'), 'paid out');
    assert.equal(await page.textContent('[data-testid=blockers]'), 'The loan has already been paid out.');
    assert.deepEqual(await contrastFailures(page), []);
  });

  test('an auditor sees who looked at the person, in English and Russian; others do not', async () => {
    const before = await f.api('POST', '/v1/access-log/search', f.tokens.auditor, { borrower_iin: f.iin, limit: 1000 });
    assert.equal(before.status, 200);
    // a fraud claim's read names the person too; the claim is closed at once,
    // so that it blocks none of the later tests' loans
    const claim = await f.api('POST', '/v1/fraud-claims', f.tokens.compliance, { borrower_iin: f.iin, reference: 'POLICE-7' });
    assert.equal(claim.status, 201);
    const read = await f.api('GET', `/v1/fraud-claims/${claim.body.claim_id}`, f.tokens.compliance);
    assert.equal(read.status, 200);
    const closed = await f.api('POST', `/v1/fraud-claims/${claim.body.claim_id}/closure`, f.tokens.compliance, { outcome: 'unfounded' });
    assert.equal(closed.status, 200);
    const lookup = await f.api('POST', '/v1/borrowers/search', f.tokens.compliance, { borrower_iin: f.iin });
    assert.equal(lookup.status, 200);
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.auditor);
    await page.click('nav a[data-route=borrower]');
    await page.fill('#borrower-iin', f.iin);
    await page.click('#borrower-form button[type=submit]');
    await page.waitForSelector('[data-testid=access-entries]');
    assert.match(await page.textContent('[data-testid=access-log] h3'), /^Who looked at this person$/);
    const rows = await page.$$eval('[data-testid=access-entries] tbody tr', (l) => l.map((r) => [...r.children].map((c) => c.textContent)));
    // every earlier entry, then the officer's claim read and look-up and this one, oldest first
    assert.equal(rows.length, before.body.entries.length + 3);
    assert.deepEqual(rows.at(-3).slice(1), ['officer1', 'Compliance', 'Fraud claim']);
    assert.deepEqual(rows.at(-2).slice(1), ['officer1', 'Compliance', 'Borrower look-up']);
    assert.deepEqual(rows.at(-1).slice(1), ['auditor1', 'Auditor', 'Borrower look-up']);
    assert.ok(!(await page.textContent('body')).includes(f.iin), 'the full IIN is nowhere on the page');
    await page.selectOption('#lang-select', 'ru');
    await page.waitForFunction(() => document.documentElement.lang === 'ru');
    await page.click('#borrower-form button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=access-entries] tbody tr').length === n,
      before.body.entries.length + 4);
    assert.equal(await page.textContent('[data-testid=access-log] h3'), 'Кто просматривал данные этого человека');
    const ru = await page.$$eval('[data-testid=access-entries] tbody tr', (l) => l.map((r) => [...r.children].map((c) => c.textContent)));
    assert.deepEqual(ru.at(-4).slice(1), ['officer1', 'Комплаенс', 'Заявление о мошенничестве']);
    assert.deepEqual(ru.at(-3).slice(1), ['officer1', 'Комплаенс', 'Поиск заёмщика']);
    assert.deepEqual(ru.at(-1).slice(1), ['auditor1', 'Аудитор', 'Поиск заёмщика']);
    await page.selectOption('#lang-select', 'en');
    assert.deepEqual(await contrastFailures(page), []);
    // a compliance officer's page has no such section: the log is the auditors'
    const other = await open(1280);
    await f.pasteToken(other, f.tokens.compliance);
    await other.click('nav a[data-route=borrower]');
    await other.fill('#borrower-iin', f.iin);
    await other.click('#borrower-form button[type=submit]');
    await other.waitForSelector('[data-testid=borrower-loans]');
    assert.equal(await other.$('[data-testid=access-log]'), null);
  });

  test('a lender sees only its own lender\'s loans of a borrower', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.lender2);
    await page.click('nav a[data-route=borrower]');
    await page.fill('#borrower-iin', f.iin);
    await page.click('#borrower-form button[type=submit]');
    await page.waitForSelector('[data-testid=borrower-loans]');
    const ids = await page.$$eval('[data-testid=borrower-loans] tbody tr td:first-child', (l) => l.map((x) => x.textContent));
    assert.deepEqual(ids, ['LN-B2-1']);
  });

  test('the loans list with filters, page by page with next', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    await page.click('nav a[data-route=loans]');
    await page.fill('#loans-lender', 'BANK1');
    await page.selectOption('#loans-limit', '5');
    await page.click('#loans-form button[type=submit]');
    const seen = [];
    for (let n = 1; ; n++) {
      await page.waitForSelector(`[data-testid=page]:text("Page ${n}")`);
      const ids = await page.$$eval('[data-testid=loans-table] tbody tr td:first-child', (l) => l.map((x) => x.textContent));
      assert.ok(ids.length <= 5 && ids.length > 0, `page ${n}: ${ids.length} rows`);
      seen.push(...ids);
      if (n === 1) {
        await f.screenshot(page, 'console-loans-1280');
        await page.setViewportSize({ width: 390, height: 844 });
        await f.screenshot(page, 'console-loans-390');
        await page.setViewportSize({ width: 1280, height: 900 });
      }
      if (await page.isDisabled('[data-testid=next]')) break;
      await page.click('[data-testid=next]');
    }
    assert.equal(seen.length, 13, seen.join(' '));
    assert.equal(new Set(seen).size, 13, 'no loan twice');
    assert.ok(!seen.includes('LN-B2-1'));
    await page.click('[data-testid=prev]');
    await page.waitForSelector('[data-testid=page]:text("Page 2")');
    // status filter
    await page.selectOption('#loans-status', 'cooling');
    await page.click('#loans-form button[type=submit]');
    await page.waitForSelector('[data-testid=page]:text("Page 1")');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=loans-table] tbody tr').length === 1);
    assert.equal(await page.textContent('[data-testid=loans-table] tbody td'), 'LN-COOL-1');
    // approved from tomorrow (Almaty): none
    const tomorrow = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Almaty' }).format(new Date(Date.now() + 86400000));
    await page.selectOption('#loans-status', '');
    await page.fill('#loans-from', tomorrow);
    await page.click('#loans-form button[type=submit]');
    await page.waitForSelector('#loans-result p:has-text("No loans match.")');
    assert.deepEqual(await unlabelled(page), []);
  });

  test('a lender token on another lender\'s loan: 403 in words', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.lender2);
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('#loan-error:not([hidden])');
    assert.match(await page.textContent('#loan-error'), /may not see this \(403\)/);
    assert.equal(await page.$('[data-testid=loan-id]'), null, 'nothing of the loan is shown');
    // and on the list of all loans, which is for compliance and auditors
    await page.click('nav a[data-route=loans]');
    await page.click('#loans-form button[type=submit]');
    await page.waitForSelector('#loans-error:not([hidden])');
    assert.match(await page.textContent('#loans-error'), /\(403\)/);
  });

  test('the other errors in words: 401, 404, 422 with its field, 503 with Retry-After, no network, no token', async () => {
    const page = await open(1280);
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('#loan-error:not([hidden])');
    assert.match(await page.textContent('#loan-error'), /Paste an API token first/);
    await f.pasteToken(page, 'cd_nonsense_token');
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('#loan-error:has-text("(401)")');
    await f.pasteToken(page, f.tokens.auditor);
    await lookUpLoan(page, 'BANK1', 'LN-NONE');
    await page.waitForSelector('#loan-error:has-text("Not found (404)")');
    assert.match(await page.textContent('#loan-error'), /Loan “LN-NONE” of lender “BANK1”/);
    await page.click('nav a[data-route=borrower]');
    await page.fill('#borrower-iin', '900101300120');
    await page.click('#borrower-form button[type=submit]');
    await page.waitForSelector('#borrower-error:not([hidden])');
    assert.match(await page.textContent('#borrower-error'), /\(422\), field “borrower_iin”: /);
    await page.route('**/v1/lenders/**', (r) => r.fulfill({ status: 503, headers: { 'Retry-After': '7', 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { code: 'unavailable', message: 'database out of reach' } }) }));
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('#loan-error:has-text("(503)")');
    assert.match(await page.textContent('#loan-error'), /Try again in 7 s/);
    await page.unroute('**/v1/lenders/**');
    await page.route('**/v1/lenders/**', (r) => r.abort('connectionrefused'));
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('#loan-error:has-text("could not be reached")');
    await page.unroute('**/v1/lenders/**');
    page.problems = page.problems.filter((p) => !/503|ERR_CONNECTION_REFUSED|ERR_FAILED/.test(p));
  });

  test('a loan id and a reason that are markup stay text', async () => {
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    const evil = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
    await lookUpLoan(page, 'BANK1', evil);
    await page.waitForSelector('#loan-error:not([hidden])');
    assert.ok((await page.textContent('#loan-error')).includes(`Loan “${evil}” of lender “BANK1”`));
    assert.equal(await page.$$eval('#loan-error script, #loan-error img', (l) => l.length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    // the path went to the API percent-encoded, as one segment
    assert.ok(f.requests.some((r) => r.url.startsWith(`${f.base}/v1/lenders/BANK1/loans/%3Cscript%3E`)));
  });

  test('Russian by the browser\'s language, English by the switch, and a Kazakh welcome', async () => {
    const page = await f.context.newPage();
    pages.push(page);
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(e.message));
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'languages', { get: () => ['ru-RU', 'ru'] });
      Object.defineProperty(navigator, 'language', { get: () => 'ru-RU' });
    });
    await page.goto(`${f.base}/console/`);
    await page.waitForSelector('body.ready');
    assert.equal(await page.getAttribute('html', 'lang'), 'ru');
    assert.equal(await page.textContent('nav a[data-route=loan]'), 'Заём');
    assert.match(await page.textContent('#welcome-kk'), /Қош келдіңіз/);
    assert.equal(await page.getAttribute('#welcome-kk', 'lang'), 'kk');
    await f.pasteToken(page, f.tokens.compliance);
    await lookUpLoan(page, 'BANK1', 'LN-COOL-1');
    await page.waitForSelector('[data-testid=countdown]');
    assert.equal(await page.textContent('[data-testid=blockers] li'), 'Период охлаждения ещё идёт.');
    await f.screenshot(page, 'console-loan-ru-1280');
    await page.selectOption('#lang-select', 'en');
    await page.waitForSelector('nav a[data-route=loan]:text("Loan")');
    assert.equal(await page.textContent('[data-testid=blockers] li'), 'The cooling period is still running.');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
  });

  test('keyboard: skip link, the pages reachable with Tab and Enter, focus on the page heading', async () => {
    const page = await open(1280);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'skip-link');
    let found = false;
    for (let i = 0; i < 15 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement.dataset?.route === 'decisions');
    }
    assert.ok(found, 'the Decisions link is reached with Tab');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement.id === 'h-decisions');
    assert.equal(await page.isVisible('#page-decisions'), true);
    assert.equal(await page.getAttribute('nav a[data-route=decisions]', 'aria-current'), 'page');
  });

  test('the token is in no URL and in no request but its Authorization header, and only in sessionStorage', async () => {
    const secrets = Object.values(f.tokens);
    assert.ok(f.requests.length > 20, `${f.requests.length} requests recorded`);
    const withAuth = f.requests.filter((r) => r.headers.authorization);
    assert.ok(withAuth.length > 5);
    for (const r of f.requests) {
      for (const s of secrets) {
        assert.ok(!r.url.includes(s), `token in the URL ${r.url}`);
        assert.ok(!(r.postData ?? '').includes(s), `token in the body of ${r.url}`);
        for (const [k, v] of Object.entries(r.headers))
          if (k !== 'authorization') assert.ok(!String(v).includes(s), `token in header ${k} of ${r.url}`);
      }
      if (r.headers.authorization) assert.ok(r.url.startsWith(`${f.base}/v1/`), `Authorization only to the API: ${r.url}`);
      assert.ok(!r.url.includes(f.iin), `IIN in the URL ${r.url}`);
      if ((r.postData ?? '').includes(f.iin))
        assert.ok([`${f.base}/v1/borrowers/search`, `${f.base}/v1/access-log/search`].includes(r.url), `IIN in the body of ${r.url}`);
    }
    for (const u of f.navigations) {
      for (const s of secrets) assert.ok(!u.includes(s), `token in a navigation ${u}`);
      assert.ok(!u.includes(f.iin), `IIN in a navigation ${u}`);
    }
    const page = await open(1280);
    await f.pasteToken(page, f.tokens.auditor);
    const storage = await page.evaluate(() => ({
      session: Object.values(sessionStorage), local: Object.values(localStorage), cookie: document.cookie,
    }));
    assert.ok(storage.session.includes(f.tokens.auditor));
    assert.deepEqual(storage.local, []);
    assert.equal(storage.cookie, '');
    assert.deepEqual((await f.context.cookies()), []);
    await page.click('#token-forget');
    assert.ok(!(await page.evaluate(() => Object.values(sessionStorage))).includes(f.tokens.auditor), 'forgotten');
  });

  test('no page reported an error or a CSP violation', async () => {
    for (const p of pages) {
      if (!p.isClosed() && p.url().startsWith(f.base)) {
        const csp = await p.evaluate(() => window.__csp ?? []);
        assert.deepEqual(csp, [], p.url());
      }
      assert.deepEqual(p.problems, [], p.url());
    }
  });
});
