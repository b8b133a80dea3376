// oidc-bff SPA. Talks only to /bff/* and /api/* on its own origin; never sees a token.
// Loaded as an ES module; no inline scripts or styles (the BFF's CSP forbids them).
//
// The session card is always the truth: after every operation and /api call, and when
// the tab comes back into view, the page re-reads GET /bff/session (200 signed in or
// not, so a signed-out load has no failed request).

import { stopLive, wireLive } from './live.js';
import {
  accessTokenState,
  adviceFor,
  breakPieces,
  computeReturnUrl,
  displayName,
  formatClaim,
  formatCountdown,
  formatEpochZoned,
  formatRelative,
  formatTimeZoned,
  initials,
  isEpoch,
  isNavigableUrl,
  explainResponse,
  loginErrorMessage,
  loginUrl,
  needsCsrf,
  orderedClaims,
  parseJsonBody,
  prettyBody,
  promptValue,
  readableTimes,
  refreshedByBff,
  refreshTokenState,
  sanitizeCode,
  senderConstraint,
  scopeList,
  secondsUntil,
  sessionHealth,
  statusLine,
  successNote,
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
  stuck: $('session-stuck'),
  stuckText: $('session-stuck-text'),
  signInAgain: $('sign-in-again'),
  claimsCard: $('claims-card'),
  claimsCount: $('claims-count'),
  claimsBody: document.querySelector('#claims tbody'),
  sessionChecked: $('session-checked'),
  sessionExpires: $('session-expires'),
  sessionExpiresRel: $('session-expires-relative'),
  sessionAbsolute: $('session-absolute'),
  sessionAbsoluteRel: $('session-absolute-relative'),
  atState: $('access-token-state'),
  atExpires: $('access-token-expires'),
  senderConstraint: $('sender-constraint'),
  atCountdown: $('access-token-countdown'),
  marker: $('refresh-marker'),
  scopes: $('session-scopes'),
  refreshFlag: $('session-refresh'),
  refreshDetail: $('session-refresh-detail'),
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
  apiBodyDetails: $('api-body-details'),
  btnCallApi: $('btn-call-api'),
  result: $('result'),
  resultLabel: $('result-label'),
  resultStatus: $('result-status'),
  resultMeta: $('result-meta'),
  resultLatency: $('result-latency'),
  resultRequestId: $('result-request-id'),
  resultExplain: $('result-explain'),
  resultActions: $('result-actions'),
  resultSignIn: $('result-sign-in'),
  resultRefresh: $('result-refresh'),
  resultTimes: $('result-times'),
  resultBody: $('result-body'),
};

const state = {
  view: 'loading', // 'loading' | 'signed-in' | 'signed-out' | 'unreachable'
  session: null,
  timer: 0,
  sessionEndChecked: false,
  // Epoch seconds of the last refresh the BFF did by itself (an /api call), or 0.
  bffRefreshedAt: 0,
  // This page revoked the refresh token (the card can say so).
  revokedRefreshHere: false,
  // An operation's answer showed the session cannot continue (e.g. the API refused the
  // access token and there is no refresh token).
  stuckByAnswer: '',
};

// ---------------------------------------------------------------------------
// HTTP

/**
 * fetch() on our own origin with cookies, JSON and the CSRF header where the BFF wants it.
 * Answers `{status, statusText, text, json, requestId, ms}`; status 0 when the network failed.
 */
async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (needsCsrf(method, path)) headers['X-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const started = performance.now();
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { status: 0, statusText: '', text: '', json: null, networkError: String(err?.message || err), ms: Math.round(performance.now() - started) };
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    text = '';
  }
  const ms = Math.round(performance.now() - started);
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  return { status: res.status, statusText: res.statusText, text, json, requestId: res.headers.get('x-request-id') || '', ms };
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

/** 'in' | 'out' | 'stuck' (signed in, but the session cannot continue). */
function setBadge(kind) {
  el.badge.textContent = kind === 'in' ? 'Signed in' : kind === 'stuck' ? 'Sign-in needed' : 'Signed out';
  el.badge.classList.remove('badge-pending');
  el.badge.classList.toggle('badge-in', kind === 'in');
  el.badge.classList.toggle('badge-stuck', kind === 'stuck');
  el.badge.classList.toggle('badge-out', kind === 'out');
}

/** Records `view` and shows its part of the page: 'signed-in', 'signed-out', or neither ('unreachable'). */
function showView(view) {
  state.view = view;
  el.loading.hidden = true;
  el.signedIn.hidden = view !== 'signed-in';
  el.signedOut.hidden = view !== 'signed-out';
}

function showSignedOut() {
  state.session = null;
  state.bffRefreshedAt = 0;
  state.revokedRefreshHere = false;
  state.stuckByAnswer = '';
  stopTimer();
  stopLive();
  showView('signed-out');
  setBadge('out');
}

function showUnreachable() {
  stopTimer();
  showView('unreachable');
  setBadge('out');
  showBanner({
    title: 'Can’t reach the sign-in service',
    text: 'The sign-in service is not reachable right now. Check your connection, or try again in a moment.',
    retry: true,
  });
}

/** Puts `text` into `node` with line-break opportunities after separators (no mid-word breaks). */
function setBreakable(node, text) {
  const pieces = breakPieces(text);
  const parts = [];
  pieces.forEach((p, i) => {
    if (i > 0) parts.push(document.createElement('wbr'));
    parts.push(document.createTextNode(p));
  });
  node.replaceChildren(...parts);
}

function showSignedIn(data) {
  const wasSignedIn = state.view === 'signed-in';
  showView('signed-in');
  const claims = data && typeof data.claims === 'object' && data.claims ? data.claims : {};
  const name = displayName(claims);
  el.userName.textContent = name;
  el.avatar.textContent = initials(name);
  const email = typeof claims.email === 'string' ? claims.email : '';
  setBreakable(el.userSubtitle, email && email !== name ? email : typeof claims.sub === 'string' ? `Subject ${claims.sub}` : '');
  renderClaims(claims);
  renderSession(data?.session || {});
  if (!wasSignedIn) {
    resetResult();
    // Claims open on wide screens; on a phone the operations come first.
    el.claimsCard.open = window.matchMedia('(min-width: 900px)').matches;
  }
  startTimer();
}

function renderClaims(claims) {
  const ordered = orderedClaims(claims);
  const rows = ordered.map(([key, value]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = key;
    const td = document.createElement('td');
    const f = formatClaim(key, value);
    const main = document.createElement('span');
    main.className = f.multiline ? 'claim-value claim-multiline' : 'claim-value';
    if (f.multiline) main.textContent = f.text;
    else setBreakable(main, f.text);
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
  el.claimsCount.textContent = `(${ordered.length})`;
  el.claimsBody.replaceChildren(...rows);
}

/**
 * Shows `session` (the BFF's summary). `byUs`: the page itself just asked for new tokens,
 * so a changed access token is not "refreshed by the BFF".
 */
function renderSession(session, { byUs = false } = {}) {
  const prev = state.session;
  // Ask the BFF again at expiry only once per distinct expiry time (no loop if it answers the same).
  if (prev?.expiresAt !== session.expiresAt) state.sessionEndChecked = false;
  if (byUs) state.bffRefreshedAt = 0;
  else if (prev && refreshedByBff(prev, session)) state.bffRefreshedAt = Math.floor(Date.now() / 1000);
  if (session.hasRefreshToken === true) {
    // A refresh token again (a new sign-in): older "revoked" and "cannot continue" are stale.
    state.revokedRefreshHere = false;
    state.stuckByAnswer = '';
  }
  state.session = { ...session };
  const s = state.session;

  el.sessionChecked.textContent = `· checked ${formatTimeZoned(Math.floor(Date.now() / 1000))}`;
  el.sessionExpires.textContent = formatEpochZoned(s.expiresAt);
  el.sessionAbsolute.textContent = formatEpochZoned(isEpoch(s.absoluteExpiresAt) ? s.absoluteExpiresAt : s.expiresAt);
  el.atExpires.textContent = s.hasAccessToken === false ? 'never: none held' : formatEpochZoned(s.accessTokenExpiresAt);
  const bound = senderConstraint(s);
  el.senderConstraint.textContent = bound.text;
  el.senderConstraint.className = bound.tone === 'ok' ? 'small tone-ok' : 'small muted';

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
  const rt = refreshTokenState(s, { revokedHere: state.revokedRefreshHere });
  el.refreshDetail.textContent = rt.text;
  el.refreshDetail.className = `small tone-${rt.tone}`;

  el.marker.hidden = !state.bffRefreshedAt;
  el.marker.textContent = state.bffRefreshedAt ? `refreshed by the BFF at ${formatTimeZoned(state.bffRefreshedAt)}` : '';

  tick();
}

/** Shows or hides "This session can't continue" and sets the badge to match. */
function renderHealth(now) {
  if (state.view !== 'signed-in' || !state.session) return;
  const health = sessionHealth(state.session, now);
  const reason = state.stuckByAnswer || (health.canContinue ? '' : health.reason);
  el.stuck.hidden = !reason;
  if (el.stuckText.textContent !== reason) el.stuckText.textContent = reason;
  setBadge(reason ? 'stuck' : 'in');
}

/** Updates the live countdowns; runs every second while signed in. */
function tick() {
  const s = state.session;
  if (!s) return;
  const now = Date.now();
  let at = accessTokenState(s, now);
  // The BFF still holds it, but the API just refused it and nothing can renew it.
  if (state.stuckByAnswer && at.tone === 'ok') at = { text: 'held, but the API refuses it', tone: 'bad' };
  el.atState.textContent = at.text;
  el.atState.className = `state tone-${at.tone}`;
  const held = s.hasAccessToken !== false && isEpoch(s.accessTokenExpiresAt);
  el.atCountdown.hidden = !held;
  el.atCountdown.textContent = held ? formatCountdown(s.accessTokenExpiresAt, now) : '';
  const left = held ? secondsUntil(s.accessTokenExpiresAt, now) : null;
  el.atCountdown.classList.toggle('countdown-expired', left !== null && left <= 0);
  el.atCountdown.classList.toggle('countdown-soon', left !== null && left > 0 && left <= 60);
  el.sessionExpiresRel.textContent = isEpoch(s.expiresAt) ? `(${formatRelative(s.expiresAt, now)})` : '';
  const absolute = isEpoch(s.absoluteExpiresAt) ? s.absoluteExpiresAt : s.expiresAt;
  el.sessionAbsoluteRel.textContent = isEpoch(absolute) ? `(${formatRelative(absolute, now)})` : '';
  renderHealth(now);

  // When the session itself runs out, ask the BFF once what it thinks.
  if (isEpoch(s.expiresAt) && secondsUntil(s.expiresAt, now) <= 0 && !state.sessionEndChecked) {
    state.sessionEndChecked = true;
    loadSession({ quiet: true });
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
  el.resultMeta.hidden = true;
  el.resultExplain.hidden = true;
  el.resultExplain.textContent = '';
  el.resultActions.hidden = true;
  el.resultTimes.hidden = true;
  el.resultTimes.replaceChildren();
  el.resultBody.textContent = 'Choose an operation above. Its answer appears here.';
}

/** `advice` from adviceFor (or `{ok, message}`); `note` a success line. */
function showResult(label, res, advice, note = '') {
  el.result.classList.remove('result-empty');
  el.result.classList.toggle('result-ok', advice.ok);
  el.result.classList.toggle('result-error', !advice.ok);
  el.resultLabel.textContent = label;
  el.resultStatus.textContent = statusLine(res.status, res.statusText);
  el.resultStatus.className = `status ${advice.ok ? 'status-ok' : 'status-error'}`;

  const meta = [];
  if (typeof res.ms === 'number' && res.status) meta.push(`${res.ms} ms`);
  el.resultLatency.textContent = meta.join('');
  el.resultRequestId.textContent = res.requestId ? `x-request-id ${res.requestId}` : '';
  el.resultMeta.hidden = !res.status;

  const message = advice.ok ? note || advice.message : advice.message;
  el.resultExplain.textContent = message;
  el.resultExplain.hidden = !message;
  el.resultExplain.classList.toggle('result-explain-ok', advice.ok);

  el.resultSignIn.hidden = advice.action !== 'sign-in';
  el.resultRefresh.hidden = advice.action !== 'refresh';
  el.resultActions.hidden = !advice.action || state.view !== 'signed-in';

  const times = readableTimes(res.json);
  el.resultTimes.replaceChildren(
    ...times.flatMap((t) => [
      Object.assign(document.createElement('dt'), { textContent: t.key }),
      Object.assign(document.createElement('dd'), { textContent: t.text }),
    ]),
  );
  el.resultTimes.hidden = times.length === 0;
  el.resultBody.textContent = res.status ? prettyBody(res.status, res.text) : '(no response)';
  revealResult();
}

/** On a small screen the answer can be below the fold: bring it into view. */
function revealResult() {
  const r = el.result.getBoundingClientRect();
  if (r.top < 0 || r.top > window.innerHeight - 120) {
    const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    el.result.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
  }
}

/**
 * Runs one operation, re-reads the session, and shows the answer with advice that fits
 * the session as it is now. `opts`: `{method, hasBody, token, byUs}`.
 */
async function operation(button, label, method, path, body, opts = {}) {
  return busy(button, async () => {
    const before = state.session ? { ...state.session } : null;
    const res = await call(method, path, body);
    if (path === '/bff/refresh' && res.status === 200 && res.json && typeof res.json === 'object') {
      renderSession(res.json, { byUs: true });
    }
    if (path === '/bff/revoke' && res.status === 204 && opts.token === 'refresh_token') state.revokedRefreshHere = true;
    const first = explainResponse(res.status, res.json, path);
    // The truth after the operation: the BFF may have refreshed, dropped or ended things.
    const after = first.sessionEnded ? null : await loadSession({ quiet: true });
    const ctx = {
      method,
      hasBody: opts.hasBody === true,
      before,
      after,
      refreshedByBff: path !== '/bff/refresh' && refreshedByBff(before, after),
      token: opts.token,
    };
    const advice = adviceFor(res.status, res.json, path, ctx);
    const ended = advice.sessionEnded || (after === null && state.view !== 'signed-in');
    if (ended) {
      showResult(label, res, advice);
      showSignedOut();
      // Keep the reason visible after switching views.
      showBanner({ title: 'Signed out', text: advice.sessionEnded ? advice.message : 'Your session has ended. Please sign in again.', info: true });
      return;
    }
    // An answer that shows the session cannot continue stays up until a success or a new session.
    if (!advice.ok && advice.stuck) state.stuckByAnswer = advice.message;
    else if (advice.ok) state.stuckByAnswer = '';
    showResult(label, res, advice, advice.ok ? successNote(path, res.json, ctx) : '');
    tick();
  });
}

// ---------------------------------------------------------------------------
// Session

let loadingSession = null;
let silentTried = false;

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

/**
 * GET /bff/session and switch views. Resolves to the session summary when signed in,
 * else null. `quiet` keeps the current view on network trouble.
 */
function loadSession({ quiet = false } = {}) {
  if (loadingSession) return loadingSession;
  loadingSession = (async () => {
    const res = await call('GET', '/bff/session');
    const body = res.json && typeof res.json === 'object' ? res.json : null;
    if (res.status === 200 && body && body.isLoggedIn === true) {
      if (el.retry.hidden === false) hideBanner();
      showSignedIn(body);
      return state.session;
    }
    if ((res.status === 200 && body && body.isLoggedIn === false) || res.status === 401) {
      if (el.retry.hidden === false) hideBanner();
      const silentPath = body && typeof body.silentLogin === 'string' ? body.silentLogin : null;
      if (silentPath && silentPath.startsWith('/bff/') && !silentTried && state.view !== 'signed-in') {
        if (await trySilentLogin(silentPath)) {
          const again = await call('GET', '/bff/session');
          if (again.status === 200 && again.json?.isLoggedIn === true) {
            showSignedIn(again.json);
            return state.session;
          }
        }
      }
      const wasSignedIn = state.view === 'signed-in';
      showSignedOut();
      if (wasSignedIn) showBanner({ title: 'Signed out', text: 'Your session has ended. Please sign in again.', info: true });
      return null;
    }
    if (!quiet || state.view !== 'signed-in') showUnreachable();
    return state.session;
  })().finally(() => {
    loadingSession = null;
  });
  return loadingSession;
}

/** "Sign in again": a fresh sign-in that comes back here; the callback replaces the session. */
function signInAgain(button) {
  button.disabled = true;
  button.classList.add('is-busy');
  window.location.assign(loginUrl(computeReturnUrl(window.location)));
  window.setTimeout(() => {
    button.disabled = false;
    button.classList.remove('is-busy');
  }, 5000);
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
  if (!isGet) el.apiBodyDetails.open = true;
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
      el.apiBodyDetails.open = true;
      showResult(`${method} ${path}`, { status: 0, text: '' }, { ok: false, message: parsed.error });
      el.resultStatus.textContent = 'Not sent';
      el.resultBody.textContent = '(the request was not sent)';
      el.apiBody.focus();
      return;
    }
    body = parsed.body;
  }
  await operation(el.btnCallApi, `${method} ${path}`, method, path, body, { hasBody: body !== null });
}

function wire() {
  el.signIn.addEventListener('click', signIn);
  el.signOut.addEventListener('click', signOut);
  el.dismiss.addEventListener('click', hideBanner);
  el.retry.addEventListener('click', () => busy([el.retry], () => loadSession()));
  el.signInAgain.addEventListener('click', () => signInAgain(el.signInAgain));
  el.resultSignIn.addEventListener('click', () => signInAgain(el.resultSignIn));
  el.resultRefresh.addEventListener('click', () => el.btnRefresh.click());

  el.btnRefresh.addEventListener('click', () => operation(el.btnRefresh, 'POST /bff/refresh', 'POST', '/bff/refresh', null));
  el.btnRevokeAccess.addEventListener('click', () =>
    operation(el.btnRevokeAccess, 'Revoke access token', 'POST', '/bff/revoke', { token: 'access_token' }, { token: 'access_token' }),
  );
  el.btnRevokeRefresh.addEventListener('click', () =>
    operation(el.btnRevokeRefresh, 'Revoke refresh token', 'POST', '/bff/revoke', { token: 'refresh_token' }, { token: 'refresh_token' }),
  );
  el.btnIntrospect.addEventListener('click', () => operation(el.btnIntrospect, 'POST /bff/introspect', 'POST', '/bff/introspect'));
  el.btnUserinfo.addEventListener('click', () => operation(el.btnUserinfo, 'GET /bff/userinfo', 'GET', '/bff/userinfo'));

  el.apiMethod.addEventListener('change', syncApiBody);
  el.apiPath.addEventListener('input', () => {
    if (!el.apiPathError.hidden) setApiPathError(validateApiPath(el.apiPath.value.trim()));
  });
  el.apiForm.addEventListener('submit', callApi);
  // Routes with a token of their own (settings.json `routes`): a GET of the preset path.
  for (const preset of document.querySelectorAll('.api-preset')) {
    preset.addEventListener('click', () => {
      el.apiMethod.value = 'GET';
      el.apiPath.value = preset.dataset.path;
      syncApiBody();
      setApiPathError('');
      operation(preset, `GET ${preset.dataset.path}`, 'GET', preset.dataset.path, null);
    });
  }

  // Coming back to the tab or the window: the session may have changed elsewhere.
  const recheck = () => {
    if (state.view === 'signed-in') loadSession({ quiet: true });
  };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') recheck();
  });
  window.addEventListener('focus', recheck);
  // Back/forward cache: re-check instead of showing a stale page.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) {
      el.signIn.disabled = false;
      el.signIn.classList.remove('is-busy');
      loadSession();
    }
  });
}

wire();
wireLive();
syncApiBody();
showLoginErrorFromUrl();
loadSession();
