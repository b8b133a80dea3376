// oidc-bff SPA. Talks only to /bff/* and /api/* on its own origin; never sees a token.
// Loaded as an ES module; no inline scripts or styles (the BFF's CSP forbids them).

import {
  computeReturnUrl,
  displayName,
  explainResponse,
  formatClaim,
  formatCountdown,
  formatEpoch,
  formatRelative,
  initials,
  isEpoch,
  isNavigableUrl,
  loginErrorMessage,
  loginUrl,
  needsCsrf,
  orderedClaims,
  parseJsonBody,
  prettyBody,
  promptValue,
  sanitizeCode,
  scopeList,
  secondsUntil,
  statusLine,
  takeLoginError,
  validateApiPath,
} from './lib.js';

const $ = (id) => document.getElementById(id);

const el = {
  badge: $('status-badge'),
  loading: $('loading'),
  banner: $('error-banner'),
  bannerTitle: $('error-title'),
  bannerText: $('error-text'),
  retry: $('error-retry'),
  dismiss: $('error-dismiss'),
  signedOut: $('signed-out'),
  signedIn: $('signed-in'),
  signIn: $('sign-in'),
  optLogin: $('opt-force-login'),
  optConsent: $('opt-force-consent'),
  signOut: $('sign-out'),
  userName: $('user-name'),
  userSubtitle: $('user-subtitle'),
  avatar: $('user-avatar'),
  claimsBody: document.querySelector('#claims tbody'),
  sessionExpires: $('session-expires'),
  sessionExpiresRel: $('session-expires-relative'),
  atExpires: $('access-token-expires'),
  atCountdown: $('access-token-countdown'),
  scopes: $('session-scopes'),
  refreshFlag: $('session-refresh'),
  btnRefresh: $('btn-refresh'),
  btnRevokeAccess: $('btn-revoke-access'),
  btnRevokeRefresh: $('btn-revoke-refresh'),
  btnIntrospect: $('btn-introspect'),
  btnUserinfo: $('btn-userinfo'),
  apiForm: $('api-form'),
  apiMethod: $('api-method'),
  apiPath: $('api-path'),
  apiPathError: $('api-path-error'),
  apiBody: $('api-body'),
  apiBodyNote: $('api-body-note'),
  btnCallApi: $('btn-call-api'),
  result: $('result'),
  resultLabel: $('result-label'),
  resultStatus: $('result-status'),
  resultExplain: $('result-explain'),
  resultBody: $('result-body'),
};

const state = {
  view: 'loading', // 'loading' | 'signed-in' | 'signed-out' | 'unreachable'
  session: null,
  timer: 0,
  sessionEndChecked: false,
};

// ---------------------------------------------------------------------------
// HTTP

/**
 * fetch() on our own origin with cookies, JSON and the CSRF header where the BFF wants it.
 * Answers `{status, statusText, text, json}`; status 0 when the network failed.
 */
async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (needsCsrf(method, path)) headers['X-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { status: 0, statusText: '', text: '', json: null, networkError: String(err?.message || err) };
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    text = '';
  }
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  return { status: res.status, statusText: res.statusText, text, json };
}

/** Runs `fn` with `button` disabled and marked busy; several buttons may be passed. */
async function busy(buttons, fn) {
  const list = Array.isArray(buttons) ? buttons : [buttons];
  // Disabling a focused button drops keyboard focus; give it back afterwards.
  const hadFocus = list.find((b) => b === document.activeElement);
  for (const b of list) {
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
    b.classList.add('is-busy');
  }
  try {
    return await fn();
  } finally {
    for (const b of list) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
      b.classList.remove('is-busy');
    }
    const lost = !document.activeElement || document.activeElement === document.body;
    if (hadFocus && lost && !hadFocus.closest('[hidden]')) hadFocus.focus();
  }
}

// ---------------------------------------------------------------------------
// Banner

function showBanner({ title, text, retry = false, info = false }) {
  el.banner.classList.toggle('banner-info', info);
  el.bannerTitle.textContent = title;
  el.bannerText.textContent = text;
  el.retry.hidden = !retry;
  el.banner.hidden = false;
}

function hideBanner() {
  el.banner.hidden = true;
  el.retry.hidden = true;
}

// ---------------------------------------------------------------------------
// Views

function setBadge(signedIn) {
  el.badge.textContent = signedIn ? 'Signed in' : 'Signed out';
  el.badge.classList.remove('badge-pending');
  el.badge.classList.toggle('badge-in', signedIn);
  el.badge.classList.toggle('badge-out', !signedIn);
}

function showSignedOut() {
  state.view = 'signed-out';
  state.session = null;
  stopTimer();
  el.loading.hidden = true;
  el.signedIn.hidden = true;
  el.signedOut.hidden = false;
  setBadge(false);
}

function showUnreachable() {
  state.view = 'unreachable';
  stopTimer();
  el.loading.hidden = true;
  el.signedIn.hidden = true;
  el.signedOut.hidden = true;
  setBadge(false);
  showBanner({
    title: 'Can’t reach the sign-in service',
    text: 'The sign-in service is not reachable right now. Check your connection, or try again in a moment.',
    retry: true,
  });
}

function showSignedIn(data) {
  const wasSignedIn = state.view === 'signed-in';
  state.view = 'signed-in';
  const claims = data && typeof data.claims === 'object' && data.claims ? data.claims : {};
  const name = displayName(claims);
  el.userName.textContent = name;
  el.avatar.textContent = initials(name);
  const email = typeof claims.email === 'string' ? claims.email : '';
  el.userSubtitle.textContent = email && email !== name ? email : typeof claims.sub === 'string' ? `Subject ${claims.sub}` : '';
  renderClaims(claims);
  renderSession(data?.session || {});
  el.loading.hidden = true;
  el.signedOut.hidden = true;
  el.signedIn.hidden = false;
  setBadge(true);
  if (!wasSignedIn) resetResult();
  startTimer();
}

function renderClaims(claims) {
  const rows = orderedClaims(claims).map(([key, value]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = key;
    const td = document.createElement('td');
    const f = formatClaim(key, value);
    const main = document.createElement('span');
    main.className = f.multiline ? 'claim-value claim-multiline' : 'claim-value';
    main.textContent = f.text;
    td.append(main);
    if (f.raw !== undefined) {
      const raw = document.createElement('span');
      raw.className = 'claim-raw';
      raw.textContent = f.raw;
      td.append(' ', raw);
    }
    tr.append(th, td);
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 2;
    td.className = 'muted';
    td.textContent = 'No claims.';
    tr.append(td);
    rows.push(tr);
  }
  el.claimsBody.replaceChildren(...rows);
}

function renderSession(session) {
  // Ask the BFF again at expiry only once per distinct expiry time (no loop if it answers the same).
  if (state.session?.expiresAt !== session.expiresAt) state.sessionEndChecked = false;
  state.session = { ...session };
  const s = state.session;

  el.sessionExpires.textContent = isEpoch(s.expiresAt) ? formatEpoch(s.expiresAt) : 'unknown';
  el.atExpires.textContent = isEpoch(s.accessTokenExpiresAt) ? formatEpoch(s.accessTokenExpiresAt) : 'unknown';

  const scopes = scopeList(s.scope);
  el.scopes.replaceChildren(
    ...(scopes.length
      ? scopes.map((sc) => {
          const li = document.createElement('li');
          li.className = 'chip';
          li.textContent = sc;
          return li;
        })
      : [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'none reported' })]),
  );

  const hasRt = s.hasRefreshToken === true;
  el.refreshFlag.textContent = hasRt ? 'yes' : 'no';
  el.refreshFlag.classList.toggle('pill-yes', hasRt);
  el.refreshFlag.classList.toggle('pill-no', !hasRt);

  tick();
}

/** Updates the live countdowns; runs every second while signed in. */
function tick() {
  const s = state.session;
  if (!s) return;
  const now = Date.now();
  el.atCountdown.textContent = formatCountdown(s.accessTokenExpiresAt, now);
  const left = isEpoch(s.accessTokenExpiresAt) ? secondsUntil(s.accessTokenExpiresAt, now) : null;
  el.atCountdown.classList.toggle('countdown-expired', left !== null && left <= 0);
  el.atCountdown.classList.toggle('countdown-soon', left !== null && left > 0 && left <= 60);
  el.sessionExpiresRel.textContent = isEpoch(s.expiresAt) ? `(${formatRelative(s.expiresAt, now)})` : '';

  // When the session itself runs out, ask the BFF once what it thinks.
  if (isEpoch(s.expiresAt) && secondsUntil(s.expiresAt, now) <= 0 && !state.sessionEndChecked) {
    state.sessionEndChecked = true;
    loadUser({ quiet: true });
  }
}

function startTimer() {
  if (!state.timer) state.timer = window.setInterval(tick, 1000);
}

function stopTimer() {
  if (state.timer) window.clearInterval(state.timer);
  state.timer = 0;
}

// ---------------------------------------------------------------------------
// Result area

function resetResult() {
  el.result.classList.add('result-empty');
  el.result.classList.remove('result-ok', 'result-error');
  el.resultLabel.textContent = 'Result';
  el.resultStatus.textContent = '—';
  el.resultStatus.className = 'status';
  el.resultExplain.hidden = true;
  el.resultExplain.textContent = '';
  el.resultBody.textContent = 'Choose an operation above. Its answer appears here.';
}

function showResult(label, res, explanation) {
  el.result.classList.remove('result-empty');
  el.result.classList.toggle('result-ok', explanation.ok);
  el.result.classList.toggle('result-error', !explanation.ok);
  el.resultLabel.textContent = label;
  el.resultStatus.textContent = statusLine(res.status, res.statusText);
  el.resultStatus.className = `status ${explanation.ok ? 'status-ok' : 'status-error'}`;
  el.resultExplain.textContent = explanation.message;
  el.resultExplain.hidden = !explanation.message;
  el.resultBody.textContent = res.status ? prettyBody(res.status, res.text) : '(no response)';
}

/** Runs one operation, shows its answer, and handles a session that ended. */
async function operation(button, label, method, path, body, after) {
  return busy(button, async () => {
    const res = await call(method, path, body);
    const explanation = explainResponse(res.status, res.json, path);
    showResult(label, res, explanation);
    if (explanation.sessionEnded) {
      showSignedOut();
      // Keep the reason visible after switching views.
      showBanner({ title: 'Signed out', text: explanation.message, info: true });
      return;
    }
    if (explanation.ok && after) await after(res);
  });
}

// ---------------------------------------------------------------------------
// Session

let loadingUser = null;
let silentTried = false;

/**
 * Silent login: a hidden iframe runs prompt=none at the OP through the BFF, and the BFF's
 * last page posts {source: 'bff-silent-login', isLoggedIn} to this exact origin. Resolves
 * to true when a session now exists. Tried once per page load.
 */
function trySilentLogin(path) {
  silentTried = true;
  return new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.hidden = true;
    frame.title = 'silent sign-in';
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      window.removeEventListener('message', onMessage);
      frame.remove();
      resolve(ok);
    };
    const onMessage = (event) => {
      if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
      if (!event.data || event.data.source !== 'bff-silent-login') return;
      finish(event.data.isLoggedIn === true);
    };
    window.addEventListener('message', onMessage);
    setTimeout(() => finish(false), 8000);
    frame.src = path;
    document.body.appendChild(frame);
  });
}

/** GET /bff/user and switch views. `quiet` keeps the current view on network trouble. */
function loadUser({ quiet = false } = {}) {
  if (loadingUser) return loadingUser;
  loadingUser = (async () => {
    const res = await call('GET', '/bff/user');
    if (res.status === 200 && res.json && typeof res.json === 'object') {
      if (el.retry.hidden === false) hideBanner();
      showSignedIn(res.json);
    } else if (res.status === 401) {
      if (el.retry.hidden === false) hideBanner();
      const silentPath = res.json && typeof res.json.silentLogin === 'string' ? res.json.silentLogin : null;
      if (silentPath && silentPath.startsWith('/bff/') && !silentTried && state.view !== 'signed-in') {
        if (await trySilentLogin(silentPath)) {
          const again = await call('GET', '/bff/user');
          if (again.status === 200 && again.json) {
            showSignedIn(again.json);
            return;
          }
        }
      }
      const wasSignedIn = state.view === 'signed-in';
      showSignedOut();
      if (wasSignedIn) showBanner({ title: 'Signed out', text: 'Your session has ended. Please sign in again.', info: true });
    } else if (!quiet || state.view !== 'signed-in') {
      showUnreachable();
    }
  })().finally(() => {
    loadingUser = null;
  });
  return loadingUser;
}

async function signIn() {
  const returnUrl = computeReturnUrl(window.location);
  const prompt = promptValue({ forceLogin: el.optLogin.checked, forceConsent: el.optConsent.checked });
  if (!prompt) {
    el.signIn.disabled = true;
    el.signIn.classList.add('is-busy');
    window.location.assign(loginUrl(returnUrl));
    // If the navigation is cancelled (e.g. Esc), give the button back.
    window.setTimeout(() => {
      el.signIn.disabled = false;
      el.signIn.classList.remove('is-busy');
    }, 5000);
    return;
  }
  await busy([el.signIn], async () => {
    const res = await call('POST', '/bff/login', { returnUrl, prompt });
    const url = res.json && res.json.authorizationUrl;
    if (res.status === 200 && isNavigableUrl(url)) {
      window.location.assign(url);
      return;
    }
    const ex = explainResponse(res.status || 0, res.json, '/bff/login');
    showBanner({
      title: 'Sign-in could not start',
      text: res.status === 200 ? 'The server did not answer with a sign-in address.' : ex.message,
      retry: false,
    });
  });
}

async function signOut() {
  await busy([el.signOut], async () => {
    const res = await call('POST', '/bff/logout');
    const url = res.json && res.json.logoutUrl;
    if (res.status === 200 && isNavigableUrl(url)) {
      window.location.assign(url);
      return;
    }
    showSignedOut();
    if (res.status === 200 || res.status === 204 || res.status === 401) {
      // Signed out here; the provider has no sign-out page, or we were already out.
      return;
    }
    const ex = explainResponse(res.status, res.json, '/bff/logout');
    showBanner({
      title: 'Sign-out did not finish',
      text: `You are signed out of this page, but the server could not confirm it. ${ex.message}`,
    });
  });
}

// ---------------------------------------------------------------------------
// Wiring

function showLoginErrorFromUrl() {
  const { code, cleanUrl } = takeLoginError(window.location.href);
  if (code === null) return;
  // A login just failed: don't immediately try a silent one.
  silentTried = true;
  const shown = sanitizeCode(code);
  showBanner({
    title: shown === 'access_denied' ? 'Sign-in cancelled' : 'Sign-in did not complete',
    text: loginErrorMessage(code),
    info: shown === 'access_denied',
  });
  try {
    window.history.replaceState(window.history.state, '', cleanUrl);
  } catch {
    /* ignore: an odd URL must not stop the page */
  }
}

function syncApiBody() {
  const isGet = el.apiMethod.value === 'GET';
  el.apiBody.disabled = isGet;
  el.apiBodyNote.textContent = isGet ? '(not sent with GET)' : '(optional)';
}

function setApiPathError(message) {
  el.apiPathError.textContent = message || '';
  el.apiPathError.hidden = !message;
  if (message) el.apiPath.setAttribute('aria-invalid', 'true');
  else el.apiPath.removeAttribute('aria-invalid');
}

async function callApi(event) {
  event.preventDefault();
  if (el.btnCallApi.disabled) return;
  const method = el.apiMethod.value;
  const path = el.apiPath.value.trim();
  const pathProblem = validateApiPath(path);
  if (pathProblem) {
    setApiPathError(pathProblem);
    el.apiPath.focus();
    return;
  }
  setApiPathError('');
  let body = null;
  if (method !== 'GET') {
    const parsed = parseJsonBody(el.apiBody.value);
    if (!parsed.ok) {
      showResult(`${method} ${path}`, { status: 0, text: '' }, { ok: false, message: parsed.error });
      el.resultStatus.textContent = 'Not sent';
      el.resultBody.textContent = '(the request was not sent)';
      el.apiBody.focus();
      return;
    }
    body = parsed.body;
  }
  await operation(el.btnCallApi, `${method} ${path}`, method, path, body);
}

function wire() {
  el.signIn.addEventListener('click', signIn);
  el.signOut.addEventListener('click', signOut);
  el.dismiss.addEventListener('click', hideBanner);
  el.retry.addEventListener('click', () => busy([el.retry], () => loadUser()));

  const refetchUser = () => loadUser({ quiet: true });
  el.btnRefresh.addEventListener('click', () =>
    operation(el.btnRefresh, 'POST /bff/refresh', 'POST', '/bff/refresh', null, async (res) => {
      if (res.json && typeof res.json === 'object') renderSession(res.json);
      await refetchUser();
    }),
  );
  el.btnRevokeAccess.addEventListener('click', () =>
    operation(el.btnRevokeAccess, 'Revoke access token', 'POST', '/bff/revoke', { token: 'access_token' }, refetchUser),
  );
  el.btnRevokeRefresh.addEventListener('click', () =>
    operation(el.btnRevokeRefresh, 'Revoke refresh token', 'POST', '/bff/revoke', { token: 'refresh_token' }, refetchUser),
  );
  el.btnIntrospect.addEventListener('click', () =>
    operation(el.btnIntrospect, 'POST /bff/introspect', 'POST', '/bff/introspect'),
  );
  el.btnUserinfo.addEventListener('click', () => operation(el.btnUserinfo, 'GET /bff/userinfo', 'GET', '/bff/userinfo'));

  el.apiMethod.addEventListener('change', syncApiBody);
  el.apiPath.addEventListener('input', () => {
    if (!el.apiPathError.hidden) setApiPathError(validateApiPath(el.apiPath.value.trim()));
  });
  el.apiForm.addEventListener('submit', callApi);

  // Coming back to the tab: the session may have changed elsewhere.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.view === 'signed-in') loadUser({ quiet: true });
  });
  // Back/forward cache: re-check instead of showing a stale page.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) {
      el.signIn.disabled = false;
      el.signIn.classList.remove('is-busy');
      loadUser();
    }
  });
}

wire();
syncApiBody();
showLoginErrorFromUrl();
loadUser();
