// Issue 15, part two: the card after a refresh the BFF did by itself (a 3 s access token,
// no refresh skew), a signed-out load without a failed request or console error, and a
// phone-sized viewport without horizontal scrolling or words broken in the middle.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BFF, httpsGet, stackForFile, withSession } from './harness.mjs';
import { callApi, openSpa, signIn, waitForText } from './flows.mjs';

const TTL = 3;
const fx = stackForFile({ name: 'page-truth', accessTokenTtl: TTL, bffEnv: { BFF_REFRESH_SKEW: '0' } });

test('after a silent refresh by the BFF the card shows the new token and says who refreshed it', async () => {
  await withSession(fx.browser, fx.stack, 'card after a silent refresh', async ({ page }) => {
    await signIn(page);
    await waitForText(page, '#access-token-countdown', 'expired', (TTL + 3) * 1000);
    await waitForText(page, '#access-token-state', 'expired — the next API call refreshes it');
    const oldExpiry = (await page.textContent('#access-token-expires')).trim();
    assert.equal(await page.isVisible('#refresh-marker'), false);
    assert.equal((await page.textContent('#status-badge')).trim(), 'Signed in', 'an expired access token with a refresh token is no reason to sign in');

    const r = await callApi(page, '/api/data'); // the BFF refreshes first; no click on "Refresh tokens"
    assert.equal(r.status, '200 OK', r.body);
    await waitForText(page, '#refresh-marker', /^refreshed by the BFF at /);
    const newExpiry = (await page.textContent('#access-token-expires')).trim();
    assert.notEqual(newExpiry, oldExpiry, 'the card shows the new expiry');
    // Right after the call the new 3 s token is live (or just ran out again: both are true).
    await waitForText(page, '#access-token-countdown', /^(expires in [1-3]s|expired)$/);
  });
});

test('a signed-out load has no failed request and no console error', async () => {
  await withSession(fx.browser, fx.stack, 'signed-out load', async ({ page, consoleLines }) => {
    const bad = [];
    page.on('response', (res) => {
      if (res.status() >= 400) bad.push(`${res.status()} ${res.url()}`);
    });
    page.on('requestfailed', (req) => bad.push(`failed ${req.url()} ${req.failure()?.errorText}`));
    await openSpa(page);
    assert.equal((await page.textContent('#status-badge')).trim(), 'Signed out');
    // The demo settings turn on silent login: wait until its hidden iframe is gone.
    await page.waitForFunction(() => !document.querySelector('iframe'), null, { timeout: 10_000 });
    await page.waitForTimeout(300);
    const errors = consoleLines.filter((l) => l.startsWith('[error]'));
    assert.deepEqual(errors, [], 'no console error');
    assert.deepEqual(bad, [], 'no failed request');
  });
});

/** Lines of `el`'s text that break right after a character that is no separator. */
function midWordBreaks(el) {
  const found = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const chars = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.data.length; i += 1) {
      const range = document.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) chars.push({ ch: n.data[i], top: Math.round(rect.top) });
    }
  }
  for (let i = 1; i < chars.length; i += 1) {
    if (chars[i].top > chars[i - 1].top + 2 && !/[\s/.@\-_?&=:#,]/.test(chars[i - 1].ch)) {
      found.push(`${el.textContent.trim().slice(0, 60)}: breaks after "${chars[i - 1].ch}" before "${chars[i].ch}"`);
    }
  }
  return found;
}

test('on a phone nothing scrolls sideways and no value breaks mid-word', async () => {
  const context = await fx.browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return ['localhost', '127.0.0.1'].includes(u.hostname) ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  const overflow = () =>
    page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth }));
  try {
    await openSpa(page);
    let o = await overflow();
    assert.ok(o.scroll <= o.width, `signed out: page ${o.scroll}px wide in a ${o.width}px viewport`);

    await signIn(page);
    assert.equal(await page.evaluate(() => document.getElementById('claims-card').open), false, 'claims start folded on a phone');
    // The operations come before the claims, on the first screen.
    const opsTop = await page.evaluate(() => document.getElementById('btn-refresh').getBoundingClientRect().top);
    assert.ok(opsTop < 740, `the first operation starts at ${opsTop}px, within the first screen`);
    await page.click('#claims-card > summary');
    await callApi(page, '/api/data');
    const inView = await page.evaluate(() => {
      const r = document.getElementById('result').getBoundingClientRect();
      return r.top < window.innerHeight && r.bottom > 0;
    });
    assert.ok(inView, 'the answer is scrolled into view');
    o = await overflow();
    assert.ok(o.scroll <= o.width, `signed in: page ${o.scroll}px wide in a ${o.width}px viewport`);

    // A long e-mail address and URL (as other OPs send them): the real answer with two claims
    // made longer. The page may wrap them only after separators.
    // (fetched from Node, which trusts the demo CA, with the browser's cookies)
    await page.route('**/bff/session', async (route) => {
      const cookies = await context.cookies(BFF);
      const res = await httpsGet(`${BFF}/bff/session`, { headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } });
      const body = JSON.parse(res.body);
      if (body.claims) {
        body.claims.email = 'firstname.middlename.lastname@subdomain.example-company.com';
        body.claims.website = 'https://accounts.example-company.com/realms/employees/protocol/openid-connect';
      }
      await route.fulfill({ status: res.status, contentType: 'application/json', body: JSON.stringify(body) });
    });
    await page.reload();
    await waitForText(page, '#user-subtitle', /^firstname\.middlename/);
    await page.click('#claims-card > summary');
    const heights = await page.evaluate(() => document.getElementById('user-subtitle').getClientRects().length);
    assert.ok(heights >= 1);
    o = await overflow();
    assert.ok(o.scroll <= o.width, `long values: page ${o.scroll}px wide in a ${o.width}px viewport`);
    const lines = await page.evaluate(() => {
      const r = document.createRange();
      r.selectNodeContents(document.getElementById('user-subtitle'));
      return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
    });
    assert.ok(lines >= 2, `the long e-mail address wraps (${lines} line(s)), so the check below means something`);
    const breaks = await page.evaluate(
      ({ fn }) => {
        // eslint-disable-next-line no-new-func
        const midWord = new Function(`return (${fn})`)();
        const targets = [...document.querySelectorAll('#claims .claim-value'), document.getElementById('user-subtitle')];
        return targets.flatMap((el) => midWord(el));
      },
      { fn: midWordBreaks.toString() },
    );
    assert.deepEqual(breaks, []);
  } finally {
    await context.close();
  }
});
