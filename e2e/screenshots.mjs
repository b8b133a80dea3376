// Takes the README's screenshots (docs/screenshots/*.png) with Chromium against the real
// stack (demo OP, demo API, oidc-bff). Not a test. Run after `cargo build --bins`:
//   E2E_PORT_OFFSET=400 BIN_DIR=$PWD/target/debug node e2e/screenshots.mjs
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, launchBrowser, startStack } from './harness.mjs';
import { callApi, openSpa, operate, signIn, waitForText } from './flows.mjs';

const OUT = path.join(ROOT, 'docs', 'screenshots');
fs.mkdirSync(OUT, { recursive: true });

const stack = await startStack({ name: 'screenshots', accessTokenTtl: 300 });
const browser = await launchBrowser();
const shot = async (page, name, fullPage = false) => {
  await page.waitForTimeout(300); // let transitions settle
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage });
  console.log(`docs/screenshots/${name}.png`);
};

async function context({ width, height, dark = false, mobile = false }) {
  const ctx = await browser.newContext({
    viewport: { width, height },
    colorScheme: dark ? 'dark' : 'light',
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    timezoneId: 'Europe/Berlin',
    locale: 'en-GB',
    reducedMotion: 'reduce', // no smooth scrolling mid-shot
  });
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return ['localhost', '127.0.0.1'].includes(u.hostname) ? route.continue() : route.abort();
  });
  return ctx;
}

try {
  // Desktop, light.
  let ctx = await context({ width: 1280, height: 860 });
  let page = await ctx.newPage();
  await openSpa(page);
  await shot(page, 'signed-out');
  await signIn(page);
  await callApi(page, '/api/data');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'signed-in');
  await operate(page, '#btn-introspect', '/bff/introspect');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'introspection');
  // Revoke the access token; the next API call makes the BFF get a new one by itself.
  await operate(page, '#btn-revoke-access', '/bff/revoke');
  await shot(page, 'access-token-revoked');
  await callApi(page, '/api/data');
  await waitForText(page, '#refresh-marker', /refreshed by the BFF/);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'refreshed-by-the-bff');
  // Revoke the refresh token (the demo OP ends the grant): the API refuses; sign in again.
  await operate(page, '#btn-revoke-refresh', '/bff/revoke');
  await callApi(page, '/api/data');
  await page.waitForSelector('#session-stuck', { state: 'visible' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'sign-in-again');
  await ctx.close();

  // Desktop, dark.
  ctx = await context({ width: 1280, height: 860, dark: true });
  page = await ctx.newPage();
  await signIn(page);
  await callApi(page, '/api/invalid-token');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'dark');
  await ctx.close();

  // Phone, light and dark.
  for (const dark of [false, true]) {
    ctx = await context({ width: 390, height: 844, mobile: true, dark });
    page = await ctx.newPage();
    await signIn(page);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, dark ? 'mobile-dark' : 'mobile');
    await callApi(page, '/api/data');
    await shot(page, dark ? 'mobile-dark-result' : 'mobile-result');
    await ctx.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
