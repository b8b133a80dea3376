// Logout keeps the ID token from the browser (issue 9): POST /bff/logout answers the
// BFF's logout page, which sends the RP-initiated logout to the real demo OP
// (oidc-provider) as an auto-submitted POST form. In real Chromium: no URL the browser
// loads (so none in the address bar or history) and no JSON the SPA reads holds a token
// (the harness checks every request and /bff/* answer), and the page's one script runs
// under its CSP nonce (a CSP violation fails the test).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BFF, OP, assertLogHasNoSecrets, stackForFile, withSession } from './harness.mjs';
import { DEMO, badge, pageFetch, signIn, startSignIn, waitForText } from './flows.mjs';

const fx = stackForFile({ name: 'logout' });

test('sign-out posts the ID token to the OP in a form; no URL or answer the page sees holds it', async () => {
  await withSession(fx.browser, fx.stack, 'logout by POST form', async ({ context, page, requests }) => {
    await signIn(page);
    await waitForText(page, '#user-name', DEMO.name);

    const answer = page.waitForResponse((r) => r.url() === `${BFF}/bff/logout`);
    await page.click('#sign-out');
    const logout = await answer;
    assert.equal(logout.status(), 200);
    await page.waitForURL((u) => u.origin === OP && u.pathname.startsWith('/session/end'));

    // The SPA was sent to the BFF's page, which the browser loaded by GET, then left by POST.
    const toPage = requests.find((r) => r.navigation && r.url === `${BFF}/bff/logout/end`);
    assert.ok(toPage, `the browser went to the logout page: ${requests.map((r) => `${r.method} ${r.url}`).join('\n')}`);
    assert.equal(toPage.method, 'GET');
    const post = requests.find((r) => r.navigation && r.method === 'POST' && r.url === `${OP}/session/end`);
    assert.ok(post, 'the logout reached the OP as a POST');
    const form = new URLSearchParams(post.postData || '');
    assert.deepEqual([...form.keys()].sort(), ['client_id', 'id_token_hint', 'post_logout_redirect_uri', 'state']);
    assert.match(form.get('id_token_hint'), /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'the ID token goes in the form body');
    assert.equal(form.get('client_id'), 'oidc-bff-demo');
    assert.equal(form.get('post_logout_redirect_uri'), `${BFF}/`);
    assert.ok(form.get('state').length >= 16);
    assert.ok(!page.url().includes('id_token_hint'), page.url());

    // The hand-off cookie was never readable by the page and is gone now.
    assert.equal((await context.cookies(BFF)).filter((c) => c.name.includes('bff-logout')).length, 0);

    // The OP (which accepted the POST) asks for confirmation, then sends us back signed out.
    await page.click('#logout-confirm');
    await page.waitForURL((u) => u.origin === BFF && u.pathname === '/');
    assert.equal(await badge(page), 'Signed out');
    const gone = await pageFetch(page, '/bff/user');
    assert.equal(gone.status, 401);

    // The OP session ended too: signing in again asks for the password.
    await startSignIn(page);
    assert.equal(await page.isVisible('#login-form'), true);
  });
  assertLogHasNoSecrets(fx.stack);
});

test('the logout page loaded on its own (no pending logout) just lands on the SPA', async () => {
  await withSession(fx.browser, fx.stack, 'logout page without a logout', async ({ page, requests }) => {
    await page.goto(`${BFF}/bff/logout/end`);
    await page.waitForURL((u) => u.origin === BFF && u.pathname === '/');
    assert.ok(!requests.some((r) => r.url.startsWith(`${OP}/session/end`)), 'nothing sent to the OP');
  });
});
