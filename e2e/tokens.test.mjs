// The "Token operations" card and "Call the API", clicked through in Chromium.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLogHasNoSecrets, sleep, stackForFile, withSession } from './harness.mjs';
import { DEMO, callApi, operate, signIn, waitForText } from './flows.mjs';

const fx = stackForFile({ name: 'tokens', accessTokenTtl: 300 });

const COUNTDOWN = /^expires in (\d+m )?\d+s$/;

test('token operations: userinfo, introspect, refresh, API calls, revocation', async () => {
  await withSession(fx.browser, fx.stack, 'token operations', async ({ page }) => {
    await signIn(page);

    // GET /bff/userinfo
    let r = await operate(page, '#btn-userinfo', '/bff/userinfo');
    assert.equal(r.status, '200 OK');
    assert.equal(r.json?.sub, DEMO.sub);
    assert.equal(r.json?.email, DEMO.email);

    // POST /bff/introspect
    r = await operate(page, '#btn-introspect', '/bff/introspect');
    assert.equal(r.status, '200 OK');
    assert.equal(r.json?.active, true);
    assert.equal(r.json?.sub, DEMO.sub);

    // POST /bff/refresh: a new access token; the countdown runs.
    r = await operate(page, '#btn-refresh', '/bff/refresh');
    assert.equal(r.status, '200 OK');
    assert.equal(r.json?.hasRefreshToken, true);
    await waitForText(page, '#access-token-countdown', COUNTDOWN);

    // The API, through the BFF, sees who is calling.
    r = await callApi(page, '/api/data');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.equal(r.ok, true);
    assert.match(r.body, new RegExp(DEMO.sub));

    // The API refuses every token here: the BFF refreshes and retries once, the answer stays 401.
    const refreshesBefore = countLines(fx.stack.proc('bff').log(), 'tokens refreshed');
    r = await callApi(page, '/api/invalid-token');
    assert.equal(r.status, '401 Unauthorized');
    assert.equal(r.json?.error, 'invalid_token');
    assert.match(r.explain, /refused the access token/);
    assert.equal(countLines(fx.stack.proc('bff').log(), 'tokens refreshed'), refreshesBefore + 1, 'one refresh for the retry');
    await waitForText(page, '#status-badge', 'Signed in');
    // ...and the session still works.
    r = await callApi(page, '/api/data');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.match(r.body, new RegExp(DEMO.sub));

    // Revoke the access token (RFC 7009).
    r = await operate(page, '#btn-revoke-access', '/bff/revoke');
    assert.equal(r.status, '204 No Content');
    assert.equal(r.body, '(no content)');
    await waitForText(page, '#status-badge', 'Signed in');

    // Introspection now says the access token is no longer active.
    r = await operate(page, '#btn-introspect', '/bff/introspect');
    assert.equal(r.status, '200 OK', `introspect after revoking the access token: ${r.status} ${r.body}`);
    assert.equal(r.json?.active, false);

    // The API call makes the BFF refresh first, so it succeeds.
    r = await callApi(page, '/api/data');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.match(r.body, new RegExp(DEMO.sub));

    // Revoke the refresh token: the session can no longer be refreshed.
    r = await operate(page, '#btn-revoke-refresh', '/bff/revoke');
    assert.equal(r.status, '204 No Content');
    await waitForText(page, '#session-refresh', 'no');

    r = await operate(page, '#btn-refresh', '/bff/refresh');
    assert.equal(r.httpStatus, 409);
    assert.equal(r.status, '409 Conflict');
    assert.equal(r.ok, false);
    assert.equal(r.json?.error, 'no_refresh_token');
    assert.ok(r.explain.length > 0, 'the page explains the failed refresh');
    assert.match(r.explain, /no refresh token/i);
  });
  assertLogHasNoSecrets(fx.stack);
});

test('the access token countdown ticks', async () => {
  await withSession(fx.browser, fx.stack, 'access token countdown', async ({ page }) => {
    await signIn(page);
    await waitForText(page, '#access-token-countdown', COUNTDOWN);
    const first = (await page.textContent('#access-token-countdown')).trim();
    await sleep(2200);
    const second = (await page.textContent('#access-token-countdown')).trim();
    assert.match(second, COUNTDOWN);
    assert.notEqual(second, first, 'the countdown changed within 2 s');
    assert.ok(seconds(second) < seconds(first), `${second} is less than ${first}`);
    assert.ok(seconds(first) <= 300, `at most the OP's 300 s access token lifetime: ${first}`);
  });
});

function countLines(text, needle) {
  return text.split('\n').filter((l) => l.includes(needle)).length;
}

function seconds(countdown) {
  const m = countdown.match(/^expires in (?:(\d+)m )?(\d+)s$/);
  return Number(m[1] || 0) * 60 + Number(m[2]);
}
