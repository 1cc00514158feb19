// The fixture of the console's browser tests: a fresh database on the
// throwaway PostgreSQL of scripts/test.sh (COOLINGD_TEST_DATABASE_URL),
// migrated with coolingctl, two lenders and a client of each role, a real
// coolingd on a free loopback port, fixture loans recorded through the API,
// and Debian's Chromium driven by playwright-core.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run the test with ctest, via scripts/test.sh)`);
  return v;
};

// An IIN with a valid check digit (REGULATION.md): born 1990-01-01 (century
// digit 3) with this serial; never a real person's.
export function makeIin(serial) {
  const base = `9001013${String(serial).padStart(4, '0')}`;
  const sum = (w) => [...base].reduce((s, d, i) => s + Number(d) * w[i], 0) % 11;
  let c = sum([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  if (c === 10) c = sum([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
  if (c === 10) return makeIin(serial + 1);
  return base + c;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Chromium's own flags: headless on a machine with loopback only, so none of
// its background connections is tried; a fresh profile per run.
export const CHROMIUM_ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

class Fixture {
  async start() {
    this.bin = env('COOLINGD_BIN_DIR');
    this.artifacts = env('COOLINGD_CONSOLE_ARTIFACTS');
    mkdirSync(this.artifacts, { recursive: true });
    this.work = mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'coolingd-console-'));
    const server = env('COOLINGD_TEST_DATABASE_URL');
    this.dbname = `console_${process.pid}_${Date.now()}`;
    const u = new URL(server);
    u.pathname = `/${this.dbname}`;
    this.dbUrl = u.toString();
    execFileSync('psql', [server, '-qAtc', `CREATE DATABASE ${this.dbname}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.conf = join(this.work, 'coolingd.conf');
    writeFileSync(this.conf, '');
    this.ctl('migrate');
    this.ctl('lender', 'add', 'BANK1', '--kind', 'bank', '--name', 'Bank One');
    this.ctl('lender', 'add', 'BANK2', '--kind', 'bank', '--name', 'Bank Two');
    this.tokens = {
      compliance: this.ctl('client', 'add', '--name', 'officer1', '--role', 'compliance').trim(),
      auditor: this.ctl('client', 'add', '--name', 'auditor1', '--role', 'auditor').trim(),
      lender1: this.ctl('client', 'add', '--name', 'core1', '--role', 'lender', '--lender', 'BANK1').trim(),
      lender2: this.ctl('client', 'add', '--name', 'core2', '--role', 'lender', '--lender', 'BANK2').trim(),
    };
    await this.startDaemon();
    await this.loans();
    this.userData = mkdtempSync(join(this.work, 'chromium-'));
    this.context = await chromium.launchPersistentContext(this.userData, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      chromiumSandbox: false,
      args: [...CHROMIUM_ARGS, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
      timezoneId: 'Europe/London',
    });
    this.requests = [];
    this.navigations = [];
    this.context.on('request', async (req) => {
      const entry = { url: req.url(), method: req.method(), headers: {}, postData: req.postData() };
      this.requests.push(entry);
      try {
        entry.headers = await req.allHeaders();
      } catch {
        entry.headers = req.headers();
      }
    });
    return this;
  }

  ctl(...args) {
    return execFileSync(join(this.bin, 'coolingctl'), ['-c', this.conf, '--database', this.dbUrl, ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  }

  async startDaemon() {
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^COOLINGD_(SERVER|DATABASE|POLICY|LOG|TLS|AUDIT|METRICS)_/.test(k)));
    Object.assign(childEnv, {
      COOLINGD_DATABASE_URL: this.dbUrl,
      COOLINGD_SERVER_LISTEN: `127.0.0.1:${this.port}`,
      COOLINGD_METRICS_LISTEN: '', // no metrics listener: its fixed port may be taken
      COOLINGD_LOG_FORMAT: 'json',
      // a cooling period that outlasts the run, below the legal minimum
      COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM: 'true',
      COOLINGD_POLICY_COOLING_PERIOD: '2h',
    });
    this.logPath = join(this.work, 'coolingd.log');
    const log = openSync(this.logPath, 'w');
    this.daemon = spawn(join(this.bin, 'coolingd'), ['-c', this.conf], { env: childEnv, stdio: ['ignore', log, log] });
    for (let i = 0; i < 200; i++) {
      if (this.daemon.exitCode !== null) break;
      try {
        const r = await fetch(`${this.base}/readyz`);
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`coolingd did not become ready:\n${readFileSync(this.logPath, 'utf8').slice(-4000)}`);
  }

  async api(method, path, token, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
  }

  async approve(lenderToken, lender, loan) {
    const r = await this.api('POST', `/v1/lenders/${lender}/loans`, lenderToken,
      { currency: 'KZT', channel: 'online', secured: false, first_time_borrower: false, ...loan });
    if (r.status !== 201) throw new Error(`approval ${loan.loan_id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async act(lenderToken, lender, loanId, act, body = {}) {
    return this.api('POST', `/v1/lenders/${lender}/loans/${encodeURIComponent(loanId)}/${act}`, lenderToken, body);
  }

  // The loans the tests look at:
  //   BANK1 LN-COOL-1   cooling (consent now, 2h), one refused payout
  //   BANK1 LN-PAID-1   below the threshold, paid out
  //   BANK1 LN-WAIT-1   no consent yet, one refused payout
  //   BANK1 LN-CANCEL-1 cancelled with a reason that is markup
  //   BANK2 LN-B2-1     of the other lender, same borrower
  //   BANK1 LN-PAGE-01..09 for paging
  async loans() {
    const t1 = this.tokens.lender1;
    const t2 = this.tokens.lender2;
    this.iin = makeIin(126);
    this.otherIin = makeIin(4242);
    this.cancelReason = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
    for (let i = 1; i <= 9; i++)
      await this.approve(t1, 'BANK1', { loan_id: `LN-PAGE-0${i}`, borrower_iin: this.otherIin, amount: `${100000 + i}.00` });
    await this.approve(t2, 'BANK2', { loan_id: 'LN-B2-1', borrower_iin: this.iin, amount: '250000.00' });
    await this.approve(t1, 'BANK1', { loan_id: 'LN-CANCEL-1', borrower_iin: this.iin, amount: '300000.00' });
    await this.act(t1, 'BANK1', 'LN-CANCEL-1', 'cancellation', { reason: this.cancelReason });
    await this.approve(t1, 'BANK1', { loan_id: 'LN-WAIT-1', borrower_iin: this.iin, amount: '400000.00' });
    await this.act(t1, 'BANK1', 'LN-WAIT-1', 'disbursement');
    await this.approve(t1, 'BANK1', { loan_id: 'LN-PAID-1', borrower_iin: this.iin, amount: '150000.00' });
    await this.act(t1, 'BANK1', 'LN-PAID-1', 'consent');
    const paid = await this.act(t1, 'BANK1', 'LN-PAID-1', 'disbursement');
    if (paid.status !== 200) throw new Error(`LN-PAID-1: ${paid.status} ${JSON.stringify(paid.body)}`);
    await this.approve(t1, 'BANK1', { loan_id: 'LN-COOL-1', borrower_iin: this.iin, amount: '700000.00' });
    await this.act(t1, 'BANK1', 'LN-COOL-1', 'consent');
    const refused = await this.act(t1, 'BANK1', 'LN-COOL-1', 'disbursement');
    if (refused.status !== 409) throw new Error(`LN-COOL-1: ${refused.status}`);
  }

  // A new tab with the console, its console messages and CSP violations
  // recorded.
  async open(width = 1280) {
    const page = await this.context.newPage();
    await page.setViewportSize({ width, height: 900 });
    page.problems = [];
    page.cspViolations = [];
    page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      const where = m.location()?.url ?? '';
      // Chromium reports every non-2xx answer of fetch() as an error of
      // its own; the tests that provoke one expect it.
      if (/^Failed to load resource: the server responded with a status of (401|403|404|422)/.test(m.text()) &&
          where.startsWith(`${this.base}/v1/`)) return;
      page.problems.push(`console ${m.type()}: ${m.text()} (${where})`);
    });
    page.on('framenavigated', (f) => this.navigations.push(f.url()));
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await page.goto(`${this.base}/console/`);
    await page.waitForSelector('body.ready');
    return page;
  }

  async pasteToken(page, token) {
    await page.fill('#token-input', token);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#token-state.ok');
  }

  async screenshot(page, name) {
    const file = join(this.artifacts, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async stop() {
    await this.context?.close().catch(() => {});
    if (this.daemon && this.daemon.exitCode === null) {
      this.daemon.kill('SIGTERM');
      await new Promise((r) => this.daemon.once('exit', r));
    }
    try {
      execFileSync('psql', [env('COOLINGD_TEST_DATABASE_URL'), '-qAtc', `DROP DATABASE IF EXISTS ${this.dbname} WITH (FORCE)`], { stdio: 'ignore' });
    } catch {
      // the throwaway cluster goes anyway
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}

let started = null;
export function fixture() {
  started ??= new Fixture().start();
  return started;
}
export async function stopFixture() {
  if (started) await (await started).stop();
}
