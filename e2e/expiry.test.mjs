// A short-lived access token (3 s at the OP, no refresh skew at the BFF): it runs out
// while the page is open, and the next call refreshes it without the person noticing.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLogHasNoSecrets, stackForFile, withSession } from './harness.mjs';
import { DEMO, callApi, operate, signIn, waitForText } from './flows.mjs';

const TTL = 3;
const fx = stackForFile({ name: 'expiry', accessTokenTtl: TTL, bffEnv: { BFF_REFRESH_SKEW: '0' } });

test('an expired access token is refreshed on the next call', async () => {
  await withSession(fx.browser, fx.stack, 'expired access token', async ({ page }) => {
    await signIn(page);
    await waitForText(page, '#access-token-countdown', 'expired', (TTL + 3) * 1000);

    const refreshes = () => fx.stack.proc('bff').log().split('\n').filter((l) => l.includes('tokens refreshed')).length;
    const before = refreshes();
    let r = await callApi(page, '/api/data');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.match(r.body, new RegExp(DEMO.sub));
    assert.equal(refreshes(), before + 1, 'the BFF refreshed the expired access token first');

    // The fresh token works at the OP too, and the page learns its new expiry.
    r = await operate(page, '#btn-userinfo', '/bff/userinfo');
    assert.equal(r.status, '200 OK');
    assert.equal(r.json?.sub, DEMO.sub);
    r = await operate(page, '#btn-refresh', '/bff/refresh');
    assert.equal(r.status, '200 OK');
    await waitForText(page, '#access-token-countdown', /^expires in [1-3]s$/);
  });
  assertLogHasNoSecrets(fx.stack);
});
