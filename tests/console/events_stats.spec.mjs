// The parts of the console that use GET /v1/lenders/{lender}/loans/{loan_id}/events
// and GET /v1/stats/decisions (CONTRACT.md, "Per-loan events and decision
// statistics"): the loan's audit timeline and the decisions chart.
//
//   node run.mjs events_stats.spec.mjs
//
// Not yet part of the CTest test: it passes once the daemon serves both calls.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fixture } from './support.mjs';

let f;

describe('the audit timeline and the decisions chart', () => {
  before(async () => {
    f = await fixture();
  });

  test('the audit timeline of a loan, in order, in words', async () => {
    const page = await f.open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    await page.fill('#loan-lender', 'BANK1');
    await page.fill('#loan-id', 'LN-COOL-1');
    await page.click('#loan-form button[type=submit]');
    await page.waitForSelector('[data-testid=timeline]');
    const kinds = await page.$$eval('[data-testid=timeline] .what', (l) => l.map((x) => x.textContent));
    assert.deepEqual(kinds, ['Approval recorded', 'Consent recorded', 'Payout refused']);
    assert.match(await page.textContent('[data-testid=timeline] li:last-child'), /cooling_period_active/);
    await f.screenshot(page, 'console-loan-timeline-1280');
    assert.deepEqual(page.problems, []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
  });

  test('a cancellation reason that is markup stays text in the timeline', async () => {
    const page = await f.open(1280);
    await f.pasteToken(page, f.tokens.lender1);
    await page.fill('#loan-lender', 'BANK1');
    await page.fill('#loan-id', 'LN-CANCEL-1');
    await page.click('#loan-form button[type=submit]');
    await page.waitForSelector('[data-testid=timeline]');
    assert.ok((await page.textContent('[data-testid=timeline]')).includes(f.cancelReason));
    assert.equal(await page.$$eval('[data-testid=timeline] script, [data-testid=timeline] img', (l) => l.length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  test('the decisions chart and its table, with the right totals', async () => {
    const page = await f.open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    await page.click('nav a[data-route=decisions]');
    await page.selectOption('#decisions-bucket', 'day');
    await page.click('#decisions-form button[type=submit]');
    await page.waitForSelector('[data-testid=decisions-table]');
    // LN-PAID-1 allowed; LN-WAIT-1 (consent_missing) and LN-COOL-1
    // (cooling_period_active) refused
    assert.equal(await page.textContent('[data-testid=summary]'), '1 allowed, 2 refused.');
    const total = await page.$$eval('[data-testid=decisions-table] tbody tr:last-child td', (l) => l.map((x) => x.textContent));
    const heads = await page.$$eval('[data-testid=decisions-table] thead th', (l) => l.map((x) => x.textContent));
    const row = Object.fromEntries(heads.map((hd, i) => [hd, total[i]]));
    assert.equal(row['Period (Almaty)'], 'Total');
    assert.equal(row.allowed, '1');
    assert.equal(row.refused, '2');
    assert.equal(row['cooling period'], '1');
    assert.equal(row['no consent'], '1');
    // the chart drew its bars: the canvas is not blank
    const painted = await page.$eval('[data-testid=chart]', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    assert.ok(painted > 1000, `${painted} painted pixels`);
    await f.screenshot(page, 'console-decisions-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(400);
    await f.screenshot(page, 'console-decisions-390');
    // per hour: the same totals
    await page.selectOption('#decisions-bucket', 'hour');
    await page.click('#decisions-form button[type=submit]');
    await page.waitForSelector('[data-testid=summary]:text("1 allowed, 2 refused.")');
    // a lender token sees its own lender's decisions only
    const other = await f.open(1280);
    await f.pasteToken(other, f.tokens.lender2);
    await other.click('nav a[data-route=decisions]');
    await other.click('#decisions-form button[type=submit]');
    await other.waitForSelector('[data-testid=summary]');
    assert.equal(await other.textContent('[data-testid=summary]'), '0 allowed, 0 refused.');
    assert.deepEqual(page.problems, []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
  });

  test('more than 1000 buckets: 422 naming the field, in words', async () => {
    const page = await f.open(1280);
    await f.pasteToken(page, f.tokens.compliance);
    await page.click('nav a[data-route=decisions]');
    await page.fill('#decisions-from', '2020-01-01');
    await page.fill('#decisions-to', '2026-01-01');
    await page.selectOption('#decisions-bucket', 'hour');
    await page.click('#decisions-form button[type=submit]');
    await page.waitForSelector('#decisions-error:not([hidden])');
    assert.match(await page.textContent('#decisions-error'), /\(422\), field “to”/);
  });
});
