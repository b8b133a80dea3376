// Issue 15: the session card is always the truth and the advice matches the state,
// in Chromium against the real OP, demo API and oidc-bff.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BFF, OP, assertLogHasNoSecrets, stackForFile, withSession } from './harness.mjs';
import { DEMO, callApi, operate, signIn, submitLogin, waitForText } from './flows.mjs';

const fx = stackForFile({ name: 'session-card', accessTokenTtl: 300 });

const visible = (page, sel) => page.isVisible(sel);
const text = async (page, sel) => (await page.textContent(sel)).trim();

test('revoking the access token: the card says "none — the next API call gets a new one", then the BFF gets one', async () => {
  await withSession(fx.browser, fx.stack, 'card after revoking the access token', async ({ page, bffJson }) => {
    await signIn(page);
    await waitForText(page, '#access-token-state', 'held by the BFF');
    assert.equal(await visible(page, '#refresh-marker'), false, 'no marker before any refresh');

    const r = await operate(page, '#btn-revoke-access', '/bff/revoke');
    assert.equal(r.status, '204 No Content');
    assert.match(r.explain, /next API call gets a new one/);
    await waitForText(page, '#access-token-state', 'none — the next API call gets a new one');
    assert.equal(await visible(page, '#access-token-countdown'), false, 'no countdown (and no "no expiry given") without a token');
    assert.doesNotMatch(await text(page, '#session-card'), /no expiry given|unknown/);
    assert.equal(await text(page, '#session-refresh'), 'yes');
    assert.equal(await text(page, '#status-badge'), 'Signed in');
    // The page asked the BFF again after the operation.
    const last = bffJson.filter((j) => j.path === '/bff/session').at(-1);
    assert.equal(last.body.session.hasAccessToken, false);

    const api = await callApi(page, '/api/data');
    assert.equal(api.status, '200 OK', api.body);
    await waitForText(page, '#access-token-state', 'held by the BFF');
    await waitForText(page, '#refresh-marker', /^refreshed by the BFF at \d\d:\d\d:\d\d/);
    await waitForText(page, '#access-token-countdown', /^expires in (\d+m )?\d+s$/);
    assert.match(api.explain, /BFF refreshed the access token/);
  });
  assertLogHasNoSecrets(fx.stack);
});

test('revoking the refresh token: the API refuses, the page says why and offers "Sign in again", which works', async () => {
  await withSession(fx.browser, fx.stack, 'sign in again after revoking the refresh token', async ({ page }) => {
    await signIn(page);
    let r = await operate(page, '#btn-revoke-refresh', '/bff/revoke');
    assert.equal(r.status, '204 No Content');
    await waitForText(page, '#session-refresh', 'no');
    await waitForText(page, '#session-refresh-detail', /you revoked it/);

    // The demo OP ended the whole grant, so the API refuses the access token; nothing can renew it.
    r = await callApi(page, '/api/data');
    assert.equal(r.status, '401 Unauthorized', r.body);
    assert.match(r.explain, /no refresh token/);
    assert.doesNotMatch(r.explain, /Refresh tokens/, 'no advice to refresh what cannot be refreshed');
    assert.equal(await visible(page, '#result-sign-in'), true, '"Sign in again" in the result');
    assert.equal(await visible(page, '#result-refresh'), false);
    assert.equal(await visible(page, '#session-stuck'), true);
    await waitForText(page, '#status-badge', 'Sign-in needed');
    await waitForText(page, '#access-token-state', 'held, but the API refuses it');

    // Refresh is refused too, with the same way out.
    r = await operate(page, '#btn-refresh', '/bff/refresh');
    assert.equal(r.httpStatus, 409);
    assert.equal(await visible(page, '#result-sign-in'), true);

    // "Sign in again": through the OP (which remembers the user: login or consent) and back.
    await page.click('#sign-in-again');
    await page.waitForURL((u) => u.origin === OP);
    await page.waitForSelector('#login-form, #consent-submit');
    if (await page.isVisible('#login-form')) await submitLogin(page);
    if (await page.isVisible('#consent-submit').catch(() => false)) await page.click('#consent-submit');
    await page.waitForURL((u) => u.origin === BFF && u.pathname === '/');
    await waitForText(page, '#status-badge', 'Signed in');
    await waitForText(page, '#session-refresh', 'yes');
    assert.equal(await visible(page, '#session-stuck'), false);
    r = await callApi(page, '/api/data');
    assert.equal(r.status, '200 OK', r.body);
    assert.match(r.body, new RegExp(DEMO.sub));
  });
  assertLogHasNoSecrets(fx.stack);
});

test('/api/invalid-token after the BFF refreshed and retried: no "try refresh", no sign-in prompt', async () => {
  await withSession(fx.browser, fx.stack, 'invalid token advice', async ({ page }) => {
    await signIn(page);
    // The card tells a BFF refresh by a changed `accessTokenExpiresAt`, which has
    // second resolution: a refresh within the sign-in's own second would look the same.
    await page.waitForTimeout(1100);
    const r = await callApi(page, '/api/invalid-token');
    assert.equal(r.status, '401 Unauthorized');
    assert.match(r.explain, /even after the BFF refreshed it and retried once/);
    assert.doesNotMatch(r.explain, /Try|Refresh tokens/);
    assert.equal(await visible(page, '#result-refresh'), false);
    assert.equal(await visible(page, '#result-sign-in'), false);
    assert.equal(await text(page, '#status-badge'), 'Signed in');
    // The BFF's refresh for the retry shows on the card.
    await waitForText(page, '#refresh-marker', /^refreshed by the BFF at /);
  });
});

test('results carry latency, x-request-id and readable times', async () => {
  await withSession(fx.browser, fx.stack, 'result details', async ({ page }) => {
    await signIn(page);
    const r = await operate(page, '#btn-introspect', '/bff/introspect');
    assert.equal(r.json?.active, true);
    assert.match(await text(page, '#result-latency'), /^\d+ ms$/);
    assert.match(await text(page, '#result-request-id'), /^x-request-id \S{8,}$/);
    const times = await page.$$eval('#result-times dt', (dts) => dts.map((d) => d.textContent));
    assert.ok(times.includes('exp') && times.includes('iat'), `exp and iat shown as dates: ${times}`);
    const exp = await page.$eval('#result-times', (dl) => dl.textContent);
    assert.match(exp, /\d{4}, \d\d:\d\d:\d\d( [AP]M)? \S+ \(in \d/, 'a date with its zone, and how far away');
    assert.doesNotMatch(exp, /\d{10}/, 'no raw epoch numbers');
    assert.match(r.explain, /is active/);
  });
});
