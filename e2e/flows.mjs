// What a person does in the SPA and on the OP's pages, as small steps shared by the tests.

import assert from 'node:assert/strict';

import { BFF, OP } from './harness.mjs';

export const DEMO = Object.freeze({ login: 'demo', password: 'demo-password', sub: 'demo-user-1', name: 'Dana Demo', email: 'demo@example.com' });

/** Opens the SPA and waits until it has asked the BFF who is signed in. */
export async function openSpa(page, path = '/') {
  await page.goto(`${BFF}${path}`);
  await settled(page);
}

/** Waits until the SPA has left its "checking your session" state. */
export async function settled(page) {
  await page.waitForFunction(() => {
    const b = document.getElementById('status-badge');
    return b && !b.classList.contains('badge-pending');
  });
}

export async function badge(page) {
  await settled(page);
  return (await page.textContent('#status-badge')).trim();
}

/** Waits until `selector`'s text matches `expected` (string: equal after trim; RegExp: test). */
export async function waitForText(page, selector, expected, timeout = 10_000) {
  const isRe = expected instanceof RegExp;
  try {
    await page.waitForFunction(
      ({ selector, source, flags, text }) => {
        const el = document.querySelector(selector);
        if (!el) return false;
        const t = el.textContent.trim();
        return source !== null ? new RegExp(source, flags).test(t) : t === text;
      },
      { selector, source: isRe ? expected.source : null, flags: isRe ? expected.flags : '', text: isRe ? null : expected },
      { timeout },
    );
  } catch (err) {
    const actual = await page.textContent(selector).catch(() => '(element missing)');
    throw new Error(`${selector}: expected ${expected}, shows ${JSON.stringify(actual?.trim())} (${err.message.split('\n')[0]})`);
  }
}

const onOp = (u) => u.origin === OP;
const backOnSpa = (u) => u.origin === BFF && u.pathname === '/';

/** Clicks "Sign in" and waits for the OP's login page. */
export async function startSignIn(page) {
  await page.click('#sign-in');
  await page.waitForURL((u) => onOp(u) && u.pathname.startsWith('/interaction/'));
  await page.waitForSelector('#login-form');
}

/** Fills the OP's login form and submits it. */
export async function submitLogin(page, { login = DEMO.login, password = DEMO.password } = {}) {
  await page.fill('#login', login);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#login-submit')]);
}

/** The whole sign-in as the demo user, ending back on the SPA, signed in. */
export async function signIn(page, user = {}) {
  await openSpa(page);
  assert.equal(await badge(page), 'Signed out');
  await startSignIn(page);
  await submitLogin(page, user);
  await page.waitForSelector('#consent-submit');
  await page.click('#consent-submit');
  await page.waitForURL(backOnSpa);
  await waitForText(page, '#status-badge', 'Signed in');
}

/** `fetch` from inside the page (its cookies, same origin): `{status, body}`. */
export async function pageFetch(page, path, init = {}) {
  return page.evaluate(
    async ({ path, init }) => {
      const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
      const text = await res.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body };
    },
    { path, init },
  );
}

/**
 * Clicks an operation button (or the API form's submit) and waits until the SPA has
 * shown the answer and given the button back. Answers what the result area shows.
 */
export async function operate(page, selector, urlPath) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => {
      const u = new URL(r.url());
      return u.origin === BFF && u.pathname === urlPath;
    }),
    page.click(selector),
  ]);
  await page.waitForFunction((sel) => {
    const b = document.querySelector(sel);
    return b && !b.disabled && !b.hasAttribute('aria-busy');
  }, selector);
  return {
    httpStatus: response.status(),
    ...(await page.evaluate(() => {
      const t = (id) => document.getElementById(id).textContent.trim();
      const explain = document.getElementById('result-explain');
      let json = null;
      try {
        json = JSON.parse(t('result-body'));
      } catch {
        /* not JSON */
      }
      return {
        label: t('result-label'),
        status: t('result-status'),
        explain: explain.hidden ? '' : t('result-explain'),
        body: t('result-body'),
        json,
        ok: document.getElementById('result').classList.contains('result-ok'),
      };
    })),
  };
}

/** Sets the API form's path (method GET) and submits it. */
export async function callApi(page, apiPath) {
  await page.selectOption('#api-method', 'GET');
  await page.fill('#api-path', apiPath);
  return operate(page, '#btn-call-api', apiPath.split('?')[0]);
}
