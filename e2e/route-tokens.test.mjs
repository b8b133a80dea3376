// issue 11: the demo's routes with a token of their own (settings.json `routes`), clicked
// in Chromium against the real demo OP and API. `/api/app` sends a client-credentials
// token of the BFF's own client, `/api/orders` the user's token exchanged (RFC 8693) for
// the demo API's resource; the API checks each by introspection and refuses any other.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BFF, assertLogHasNoSecrets, httpsGet, stackForFile, withSession } from './harness.mjs';
import { DEMO, operate, pageFetch, openSpa, signIn } from './flows.mjs';

const fx = stackForFile({ name: 'route-tokens' });
const RESOURCE = 'urn:oidc-bff:demo-api';

/** `bff_route_tokens_total{kind,outcome}` from the BFF's /metrics (0 when absent). */
async function routeTokens(kind, outcome) {
  const r = await httpsGet(`${BFF}/metrics`);
  assert.equal(r.status, 200);
  const line = r.body.split('\n').find((l) => l.startsWith('bff_route_tokens_total{') && l.includes(`kind="${kind}"`) && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('the preset buttons call the API as the application and with an exchanged token', async () => {
  await withSession(fx.browser, fx.stack, 'route tokens', async ({ page }) => {
    await signIn(page);

    const issuedBefore = await routeTokens('client', 'issued');
    let r = await operate(page, '#preset-app', '/api/app/status');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.match(r.json?.message, /Hello, application/);
    assert.equal(r.json?.caller?.client_id, 'oidc-bff-demo');
    assert.equal(r.json?.caller?.sub, undefined, 'a client token has no user');
    assert.deepEqual(r.json?.scopes, ['api:read']);
    assert.ok([r.json?.aud].flat().includes(RESOURCE), `aud ${JSON.stringify(r.json?.aud)}`);

    // The second call reuses the cached client token: no second grant.
    r = await operate(page, '#preset-app', '/api/app/status');
    assert.equal(r.status, '200 OK');
    assert.equal(await routeTokens('client', 'issued'), issuedBefore + 1, 'one client-credentials grant for two calls');

    r = await operate(page, '#preset-orders', '/api/orders/list');
    assert.equal(r.status, '200 OK', `${r.explain} ${r.body}`);
    assert.equal(r.json?.caller?.sub, DEMO.sub, 'the exchanged token is still the user');
    assert.ok([r.json?.aud].flat().includes(RESOURCE), `aud ${JSON.stringify(r.json?.aud)}`);
    assert.deepEqual(r.json?.orders?.map((o) => o.item), ['Demo mug', 'Sticker pack']);
    const exchanges = await routeTokens('exchange', 'issued');
    r = await operate(page, '#preset-orders', '/api/orders/list');
    assert.equal(r.status, '200 OK');
    assert.equal(await routeTokens('exchange', 'issued'), exchanges, 'the exchanged token is cached for the session');

    // The default route still sends the user's own token.
    r = await pageFetch(page, '/api/data', { headers: { 'X-CSRF': '1' } });
    assert.equal(r.status, 200);
    assert.match(JSON.stringify(r.body), new RegExp(DEMO.sub));

    // Nothing token-like reached the page.
    const html = await page.content();
    assert.ok(!/eyJ[\w-]+\.[\w-]+\./.test(html), 'no JWT in the page');
  });
  assertLogHasNoSecrets(fx.stack);
});

test('signed out: the client route still works, the exchange route is 401 before any grant', async () => {
  await withSession(fx.browser, fx.stack, 'route tokens signed out', async ({ page }) => {
    await openSpa(page);
    const exchanges = await routeTokens('exchange', 'issued');
    let r = await pageFetch(page, '/api/app/status', { headers: { 'X-CSRF': '1' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body?.caller?.client_id, 'oidc-bff-demo');
    r = await pageFetch(page, '/api/orders/list', { headers: { 'X-CSRF': '1' } });
    assert.equal(r.status, 401);
    assert.equal(r.body?.error, 'not_authenticated');
    assert.equal(await routeTokens('exchange', 'issued'), exchanges);
  });
});
