// issue 11: a WebSocket through the BFF, in real Chromium, to the real demo API with a
// token from the real demo OP. The SPA's live panel opens /api/clock (no token in the
// page: the BFF adds it upstream); the demo API greets the user by the name the OP gives
// for that token. Signing out in one tab ends the session, and the BFF closes the
// socket of another tab of the same session with 1008.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BFF, assertLogHasNoSecrets, launchBrowser, startStack, withSession } from './harness.mjs';
import { DEMO, openSpa, signIn, waitForText } from './flows.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack({ name: 'websocket' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the live panel greets the user by name through the BFF and closes when the session ends', async () => {
  await withSession(browser, stack, 'websocket live panel', async ({ context, page }) => {
    await signIn(page);
    await waitForText(page, '#user-name', DEMO.name);

    // A second tab of the same session holds the socket.
    const live = await context.newPage();
    const frames = [];
    live.on('websocket', (ws) => {
      frames.push({ url: ws.url() });
      ws.on('framereceived', (f) => frames.push({ in: String(f.payload) }));
    });
    await openSpa(live);
    await waitForText(live, '#user-name', DEMO.name);
    await live.click('#live-connect');
    await waitForText(live, '#live-greeting', `Hello, ${DEMO.name}!`);
    assert.equal(await live.textContent('#live-state'), 'Open');
    assert.equal(frames[0].url, `${BFF.replace('https:', 'wss:')}/api/clock`);
    // Ticks keep coming, and an echo comes back.
    await live.fill('#live-input', 'ping from the page');
    await live.click('#live-send');
    await live.waitForFunction(
      () => [...document.querySelectorAll('#live-log li')].some((li) => li.textContent === 'echo: ping from the page'),
      null,
      { timeout: 5000 },
    );
    await live.waitForFunction(() => document.querySelector('#live-log').textContent.includes('tick '), null, { timeout: 5000 });
    for (const f of frames) {
      assert.ok(!/eyJ[\w-]+\.[\w-]+\./.test(f.in || ''), 'no token in a frame');
    }

    // Sign out in the first tab: the BFF ends the session and closes the other tab's socket.
    const started = Date.now();
    await page.click('#sign-out');
    await live.waitForFunction(() => document.querySelector('#live-state').dataset.code === '1008', null, { timeout: 5000 });
    assert.ok(Date.now() - started < 5000, 'closed within a few seconds');
    assert.equal(await live.textContent('#live-state'), 'Closed: session ended');
    await live.close();
  });
  assertLogHasNoSecrets(stack);
});
