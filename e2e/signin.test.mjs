// Sign-in and sign-out as a person does it, in Chromium, against the real stack.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BFF, OP, assertLogHasNoSecrets, stackForFile, withSession } from './harness.mjs';
import { DEMO, badge, openSpa, pageFetch, signIn, startSignIn, submitLogin, waitForText } from './flows.mjs';

const fx = stackForFile({ name: 'signin' });

test('sign in, see the profile without ever holding a token, then sign out at the OP', async () => {
  await withSession(fx.browser, fx.stack, 'sign in and out', async ({ context, page, bffJson }) => {
    await signIn(page);

    // Who is signed in.
    await waitForText(page, '#user-name', DEMO.name);
    const claims = await page.$$eval('#claims tbody tr', (rows) =>
      Object.fromEntries(rows.map((r) => [r.querySelector('th').textContent.trim(), r.querySelector('td').textContent.trim()])),
    );
    assert.equal(claims.sub, DEMO.sub);
    assert.equal(claims.email, DEMO.email);
    assert.equal(await page.textContent('#session-refresh'), 'yes');

    // The page sees no cookie; the session cookie is HttpOnly, Secure, __Host-, SameSite=Strict.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookies = await context.cookies(BFF);
    const session = cookies.filter((c) => c.name.startsWith('__Host-bff-session'));
    assert.ok(session.length >= 1, `session cookie set (cookies: ${cookies.map((c) => c.name).join(', ')})`);
    for (const c of session) {
      assert.equal(c.httpOnly, true, `${c.name} HttpOnly`);
      assert.equal(c.secure, true, `${c.name} Secure`);
      assert.equal(c.path, '/', `${c.name} Path=/`);
      assert.equal(c.sameSite, 'Strict', `${c.name} SameSite`);
    }

    // What the browser got from /bff/user: claims and session facts, no token.
    // The SPA reads GET /bff/session (issue 15): /bff/user's body plus isLoggedIn.
    const user = bffJson.find((r) => (r.path === '/bff/session' || r.path === '/bff/user') && r.status === 200 && r.body.claims);
    assert.ok(user, 'the SPA loaded /bff/session');
    assert.equal(user.body.claims.sub, DEMO.sub);
    for (const k of ['expiresAt', 'accessTokenExpiresAt', 'scope', 'hasRefreshToken']) {
      assert.ok(k in user.body.session, `/bff/user session has ${k}`);
    }

    // Sign out: the OP asks for confirmation, then sends us back signed out.
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === OP && u.pathname.startsWith('/session/end'));
    await page.click('#logout-confirm');
    await page.waitForURL((u) => u.origin === BFF && u.pathname === '/');
    assert.equal(await badge(page), 'Signed out');
    assert.equal(await page.isVisible('#sign-in'), true);

    const gone = await pageFetch(page, '/bff/user');
    assert.equal(gone.status, 401);
    assert.equal(gone.body.error, 'not_authenticated');

    // The old session cookie, replayed, stays dead.
    await context.addCookies(session);
    const replay = await pageFetch(page, '/bff/user');
    assert.equal(replay.status, 401, 'a replayed cookie of an ended session gets 401');

  });
  assertLogHasNoSecrets(fx.stack);
});

test('a wrong password is refused at the OP and no session starts', async () => {
  await withSession(fx.browser, fx.stack, 'wrong password', async ({ context, page }) => {
    await openSpa(page);
    await startSignIn(page);
    await submitLogin(page, { password: 'not-the-password' });
    await page.waitForSelector('#login-error');
    assert.match(page.url(), new RegExp(`^${OP}/interaction/`));
    assert.ok((await page.textContent('#login-error')).trim().length > 0, '#login-error says something');

    const cookies = await context.cookies(BFF);
    assert.deepEqual(cookies.filter((c) => c.name.startsWith('__Host-bff-session')), []);
    await openSpa(page);
    assert.equal(await badge(page), 'Signed out');
    assert.equal((await pageFetch(page, '/bff/user')).status, 401);
  });
});

test('cancelling at the consent page comes back signed out with a plain-words message', async () => {
  await withSession(fx.browser, fx.stack, 'cancel at consent', async ({ context, page }) => {
    await openSpa(page);
    await startSignIn(page);
    await submitLogin(page);
    await page.waitForSelector('#consent-cancel');
    await page.click('#consent-cancel');
    await page.waitForURL((u) => u.origin === BFF && u.pathname === '/');

    assert.equal(await badge(page), 'Signed out');
    await page.waitForSelector('#error-banner:not([hidden])');
    const title = (await page.textContent('#error-title')).trim();
    const text = (await page.textContent('#error-text')).trim();
    assert.equal(title, 'Sign-in cancelled');
    assert.match(text, /cancelled the sign-in/);
    assert.ok(text.split(/\s+/).length >= 5, `a sentence, not a bare code: ${JSON.stringify(text)}`);
    // The SPA tidies the address bar.
    assert.equal(new URL(page.url()).search, '');

    const cookies = await context.cookies(BFF);
    assert.deepEqual(cookies.filter((c) => c.name.startsWith('__Host-bff-session')), []);
    assert.equal((await pageFetch(page, '/bff/user')).status, 401);
  });
});

test('signing out at the OP ends the BFF session too (back-channel logout)', async () => {
  await withSession(fx.browser, fx.stack, 'back-channel logout', async ({ page }) => {
    await signIn(page);
    const delivered = countLines(fx.stack.proc('op').log(), 'backchannel-logout delivered');

    // Sign out at the OP directly, as from another application of the same provider.
    await page.goto(`${OP}/session/end`);
    await page.click('#logout-confirm');
    await page.waitForSelector('#logged-out');
    const opLog = fx.stack.proc('op').log();
    assert.equal(
      countLines(opLog, 'backchannel-logout delivered'),
      delivered + 1,
      `the OP delivered the logout token to the BFF:\n${opLog.split('\n').filter((l) => l.includes('backchannel-logout')).join('\n')}`,
    );

    // Back in the SPA: the session is over.
    await openSpa(page);
    assert.equal(await badge(page), 'Signed out');
    assert.equal((await pageFetch(page, '/bff/user')).status, 401);
  });
});

function countLines(text, needle) {
  return text.split('\n').filter((l) => l.includes(needle)).length;
}

test('silent login restores the session when the BFF cookie is gone but the OP session lives', async () => {
  await withSession(fx.browser, fx.stack, 'silent login', async ({ context, page }) => {
    await signIn(page);
    await waitForText(page, '#user-name', DEMO.name);

    // Lose the BFF's cookies only (the OP's own session cookies stay).
    const all = await context.cookies();
    const keep = all.filter((c) => !c.name.includes('bff-'));
    assert.ok(keep.length < all.length, 'there were BFF cookies to drop');
    await context.clearCookies();
    await context.addCookies(keep);
    assert.equal((await pageFetch(page, '/bff/user')).status, 401);

    // Opening the SPA again signs in silently: no login page, no click.
    await openSpa(page);
    assert.equal(await badge(page), 'Signed in');
    await waitForText(page, '#user-name', DEMO.name);
    assert.equal(new URL(page.url()).origin, BFF, 'never left the SPA');
    assert.equal((await pageFetch(page, '/bff/user')).status, 200);
  });
});
