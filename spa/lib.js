// Small pure helpers for the oidc-bff SPA. No DOM access here, so Node's test
// runner can exercise everything (see lib.test.mjs, run with `node --test spa/`).

/** Claims whose numeric value is a point in time (seconds since the epoch). */
export const TIME_CLAIMS = Object.freeze(['iat', 'exp', 'auth_time', 'updated_at', 'nbf']);

// ---------------------------------------------------------------------------
// Time and countdowns

/**
 * A duration in whole seconds as short words: "42s", "4m 12s", "2h 5m 3s", "3d 4h".
 * Negative input counts as zero.
 */
export function formatDuration(seconds) {
  let s = Math.max(0, Math.floor(Number(seconds) || 0));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Whole seconds left (rounded up) until `expiresAt` (epoch seconds) at `nowMs` (epoch ms). */
export function secondsUntil(expiresAt, nowMs = Date.now()) {
  return Math.ceil(Number(expiresAt) - nowMs / 1000);
}

/**
 * The live countdown text: "expires in 4m 12s", or "expired" once the moment has
 * passed. `null`/missing expiry gives "no expiry given".
 */
export function formatCountdown(expiresAt, nowMs = Date.now()) {
  if (!isEpoch(expiresAt)) return 'no expiry given';
  const left = secondsUntil(expiresAt, nowMs);
  if (left <= 0) return 'expired';
  return `expires in ${formatDuration(left)}`;
}

/** "in 7h 59m 0s" / "3m 2s ago" — a moment relative to now. */
export function formatRelative(epochSeconds, nowMs = Date.now()) {
  if (!isEpoch(epochSeconds)) return '';
  const diff = secondsUntil(epochSeconds, nowMs);
  if (diff === 0) return 'now';
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** True for a finite, non-negative number usable as epoch seconds. */
export function isEpoch(v) {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** The fields of a time of day to the second, and of a date with it (Intl options). */
const TIME_FIELDS = Object.freeze({ hour: '2-digit', minute: '2-digit', second: '2-digit' });
const DATE_TIME_FIELDS = Object.freeze({ year: 'numeric', month: 'short', day: 'numeric', ...TIME_FIELDS });

/**
 * `date` formatted with `fields`, in `opts.locale` / `opts.timeZone` (these exist for
 * tests; the browser passes neither), with the zone's short name when `zoned`.
 */
function formatFields(date, fields, opts, zoned) {
  const zone = zoned ? { timeZoneName: 'short' } : {};
  return new Intl.DateTimeFormat(opts.locale, { ...fields, ...zone, timeZone: opts.timeZone }).format(date);
}

/** Epoch seconds as a local date-time, e.g. "27 Nov 2026, 08:12:04". */
export function formatEpoch(epochSeconds, opts = {}) {
  const date = new Date(Number(epochSeconds) * 1000);
  if (Number.isNaN(date.getTime())) return String(epochSeconds);
  return formatFields(date, DATE_TIME_FIELDS, opts, false);
}

// ---------------------------------------------------------------------------
// Claims

/**
 * Any JSON value as readable text. Objects become "key: value" lines (nested
 * objects indented by two spaces), arrays of plain values are joined with ", ".
 */
export function readableValue(value, indent = 0) {
  const pad = ' '.repeat(indent);
  if (value === null) return 'null';
  if (value === undefined) return '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      return value.map((v) => readableValue(v)).join(', ');
    }
    return value
      .map((v) => {
        const inner = readableValue(v, indent + 2);
        return `${pad}- ${inner.trimStart()}`;
      })
      .join('\n');
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return '(empty)';
    return keys
      .map((k) => {
        const v = value[k];
        if (v !== null && typeof v === 'object' && !isPlainList(v)) {
          return `${pad}${k}:\n${readableValue(v, indent + 2)}`;
        }
        return `${pad}${k}: ${readableValue(v, indent + 2)}`;
      })
      .join('\n');
  }
  return String(value);
}

function isPlainList(v) {
  return Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object');
}

/**
 * How one ID-token claim is shown: `{text, raw?, multiline}`.
 * Time claims get a local date-time in `text` and the number in `raw`.
 */
export function formatClaim(key, value, opts = {}) {
  if (TIME_CLAIMS.includes(key) && isEpoch(value)) {
    return { text: formatEpoch(value, opts), raw: String(value), multiline: false };
  }
  const text = readableValue(value);
  return { text, multiline: text.includes('\n') };
}

/** The claims as `[key, value]` pairs, `sub` first, the rest in the OP's order. */
export function orderedClaims(claims) {
  if (!claims || typeof claims !== 'object') return [];
  const entries = Object.entries(claims);
  return [
    ...entries.filter(([k]) => k === 'sub'),
    ...entries.filter(([k]) => k !== 'sub'),
  ];
}

/** The name to greet: name → preferred_username → email → sub → "there". */
export function displayName(claims) {
  const c = claims || {};
  for (const k of ['name', 'preferred_username', 'email', 'sub']) {
    const v = c[k];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  const given = [c.given_name, c.family_name].filter((v) => typeof v === 'string' && v.trim());
  if (given.length) return given.join(' ');
  return 'there';
}

/** One or two initials for the avatar. */
export function initials(name) {
  const words = String(name || '')
    .replace(/@.*$/, '')
    .split(/[\s._-]+/)
    .filter(Boolean);
  if (words.length === 0) return '?';
  const first = Array.from(words[0])[0] || '';
  const last = words.length > 1 ? Array.from(words[words.length - 1])[0] || '' : '';
  return (first + last).toUpperCase() || '?';
}

/** "openid profile email" → ["openid", "profile", "email"]. */
export function scopeList(scope) {
  if (Array.isArray(scope)) return scope.map(String).filter(Boolean);
  if (typeof scope !== 'string') return [];
  return scope.split(/\s+/).filter(Boolean);
}

// ---------------------------------------------------------------------------
// Login errors from the callback (`/?login_error=CODE`)

const LOGIN_ERRORS = {
  access_denied: 'You cancelled the sign-in, or the provider refused it.',
  invalid_state: 'That sign-in link was already used or has expired. Please sign in again.',
  state_replayed: 'That sign-in link was already used or has expired. Please sign in again.',
  missing_code: 'The identity provider sent you back without a sign-in code. Please sign in again.',
  iss_mismatch:
    "The identity provider's answer could not be verified (it came from an unexpected issuer), so you were not signed in.",
  invalid_id_token:
    "The identity provider's answer could not be verified, so you were not signed in. Please try again, and contact the administrator if it keeps happening.",
  token_exchange_failed:
    'The sign-in could not be completed: the identity provider did not accept the sign-in code. Please try again.',
  login_required: 'The identity provider needs you to sign in again. Please sign in.',
  consent_required: 'The identity provider needs your consent before you can continue. Please sign in again and approve access.',
  interaction_required: 'The identity provider needs you to take an action before you can continue. Please sign in again.',
  account_selection_required: 'The identity provider needs you to choose an account. Please sign in again.',
  temporarily_unavailable: 'The sign-in service is temporarily unavailable. Please try again in a moment.',
  server_error: 'The identity provider ran into a problem. Please try again in a moment.',
  session_error: 'You were signed in, but your session could not be saved. Please try again.',
  invalid_scope: 'The identity provider refused the requested permissions (scopes). Contact the administrator.',
  unauthorized_client: 'This application is not allowed to sign you in with that provider. Contact the administrator.',
  invalid_request: 'The identity provider rejected the sign-in request. Please try again, and contact the administrator if it keeps happening.',
  login_failed: 'The sign-in did not complete. Please try again.',
};

/** Only short snake_case codes are echoed back to the person. */
export function sanitizeCode(code) {
  const s = String(code ?? '').trim();
  return /^[A-Za-z0-9_.-]{1,64}$/.test(s) ? s : '';
}

/** A friendly sentence for a `login_error` code; unknown codes are shown in the text. */
export function loginErrorMessage(code) {
  const c = sanitizeCode(code);
  if (Object.prototype.hasOwnProperty.call(LOGIN_ERRORS, c)) return LOGIN_ERRORS[c];
  return c
    ? `The sign-in did not complete (error code: ${c}). Please try again.`
    : 'The sign-in did not complete. Please try again.';
}

/**
 * Reads `login_error` from a URL. Answers `{code, cleanUrl}`: `code` is null when
 * absent, `cleanUrl` is the same path/query/hash without the parameter, for
 * history.replaceState.
 */
export function takeLoginError(href) {
  const url = new URL(href, 'http://localhost');
  const raw = url.searchParams.get('login_error');
  url.searchParams.delete('login_error');
  url.searchParams.delete('login_error_description');
  const search = url.searchParams.toString();
  const cleanUrl = url.pathname + (search ? `?${search}` : '') + url.hash;
  return { code: raw === null ? null : raw, cleanUrl };
}

// ---------------------------------------------------------------------------
// Sign-in

/**
 * Where to come back after sign-in: the current path, query and hash, without
 * `login_error`, and always a same-origin path ("/" when in doubt).
 */
export function computeReturnUrl(locationLike) {
  const href =
    typeof locationLike === 'string'
      ? locationLike
      : (locationLike?.pathname || '/') + (locationLike?.search || '') + (locationLike?.hash || '');
  const { cleanUrl } = takeLoginError(href);
  return isSafeReturnUrl(cleanUrl) ? cleanUrl : '/';
}

/** A local path: starts with one "/", no "//" or "/\\" trick, no whitespace or control chars. */
export function isSafeReturnUrl(s) {
  if (typeof s !== 'string' || !s.startsWith('/') || s.startsWith('//')) return false;
  if (s.includes('\\') || /[\s\u0000-\u001f\u007f]/.test(s) || s.length > 2048) return false;
  const lower = s.toLowerCase();
  return !lower.startsWith('/%2f') && !lower.startsWith('/%5c');
}

/** The GET sign-in URL for a full-page navigation. */
export function loginUrl(returnUrl) {
  return `/bff/login?returnUrl=${encodeURIComponent(returnUrl || '/')}`;
}

/** The OIDC `prompt` value for the chosen options, or null for none. */
export function promptValue({ forceLogin = false, forceConsent = false } = {}) {
  const parts = [];
  if (forceLogin) parts.push('login');
  if (forceConsent) parts.push('consent');
  return parts.length ? parts.join(' ') : null;
}

/** Only http(s) URLs are followed (authorizationUrl, logoutUrl). */
export function isNavigableUrl(u) {
  if (typeof u !== 'string' || u === '') return false;
  try {
    const url = new URL(u, 'http://localhost');
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Requests

/** Every state-changing /bff request and every /api request carries `X-CSRF: 1`. */
export function needsCsrf(method, path) {
  const m = String(method || 'GET').toUpperCase();
  const p = String(path || '');
  if (p.startsWith('/api/') || p === '/api') return true;
  return p.startsWith('/bff/') && !['GET', 'HEAD', 'OPTIONS'].includes(m);
}

/**
 * Checks the "Call API" path. Answers null when fine, else a sentence saying why not.
 */
export function validateApiPath(path) {
  const p = String(path ?? '').trim();
  if (!p.startsWith('/api/')) return 'The path must start with /api/.';
  if (/[\s\u0000-\u001f\u007f\\]/.test(p)) return 'The path must not contain spaces, backslashes or control characters.';
  const pathOnly = p.split(/[?#]/)[0];
  const segments = pathOnly.split('/').map((seg) => {
    try {
      return decodeURIComponent(seg);
    } catch {
      return seg;
    }
  });
  if (segments.some((seg) => seg === '..' || seg === '.')) return 'The path must not contain "." or ".." segments.';
  return null;
}

/**
 * The optional JSON body of "Call API". Empty → `{ok: true, body: null}`;
 * valid JSON → `{ok: true, body: "<compact JSON>"}`; else `{ok: false, error}`.
 */
export function parseJsonBody(text) {
  const t = String(text ?? '').trim();
  if (t === '') return { ok: true, body: null };
  try {
    return { ok: true, body: JSON.stringify(JSON.parse(t)) };
  } catch (e) {
    return { ok: false, error: `The body is not valid JSON: ${e.message}` };
  }
}

const REASONS = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict',
  410: 'Gone', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** "204 No Content"; status 0 means the request never got an answer. */
export function statusLine(status, statusText = '') {
  if (!status) return 'No response';
  const reason = statusText || REASONS[status] || '';
  return reason ? `${status} ${reason}` : String(status);
}

/**
 * The body for the result area: pretty JSON when it parses, "(no content)" for
 * an empty answer, else the text itself (cut at `max` characters).
 */
export function prettyBody(status, text, max = 20000) {
  if (status === 204 || text === '' || text == null) return '(no content)';
  let out;
  try {
    out = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    out = String(text);
  }
  return out.length > max ? `${out.slice(0, max)}\n… (${out.length - max} more characters)` : out;
}

/** The `error` code of a JSON error body, if any. */
export function errorCode(body) {
  if (body && typeof body === 'object' && typeof body.error === 'string') return body.error;
  return null;
}

/** Codes with which the BFF says the session is gone. */
export const SESSION_ENDED_CODES = Object.freeze(['not_authenticated', 'session_expired']);

/**
 * Plain words for a response of an operation. Answers
 * `{ok, message, sessionEnded}`; `message` is '' for a plain success.
 * `path` tells /bff from /api answers; status 0 is a network failure.
 */
export function explainResponse(status, body, path = '') {
  const code = errorCode(body);
  const isApi = String(path).startsWith('/api/');
  if (status >= 200 && status < 300) return { ok: true, message: '', sessionEnded: false };
  if (!status) {
    return {
      ok: false,
      sessionEnded: false,
      message: 'The server could not be reached. Check your connection and try again.',
    };
  }
  const fail = (message, sessionEnded = false) => ({ ok: false, message, sessionEnded });
  if (status === 401) {
    if (!isApi || SESSION_ENDED_CODES.includes(code)) {
      return fail('Your session has ended. Please sign in again.', true);
    }
    return fail(
      'The API refused the access token (it may have been revoked). Try “Refresh tokens” to get a new one.',
    );
  }
  if (status === 403) {
    if (code === 'csrf') {
      return fail('The request was blocked by the cross-site request protection (CSRF check). Reload the page and try again.');
    }
    return fail(isApi ? 'The API refused this request: you are not allowed to do that.' : 'The server refused this request.');
  }
  if (status === 404 || status === 501) {
    if (isApi && status === 404) return fail('The API has nothing at this path (404).');
    return fail('This operation is not available on this server/provider.');
  }
  if (status === 405) return fail('This method is not allowed here.');
  if (status === 409 && code === 'no_refresh_token') {
    return fail('This session has no refresh token any more, so it can’t be refreshed. Sign in again to get new tokens.');
  }
  if (status === 409 && code === 'no_access_token') {
    return fail('This session holds no access token right now. “Refresh tokens” gets a new one.');
  }
  if (status === 400 || status === 422) {
    return fail(isApi ? 'The API rejected the request as invalid.' : 'The server rejected the request as invalid.');
  }
  if (status === 429) return fail('Too many requests. Wait a moment and try again.');
  if (status === 502) {
    return fail(
      isApi
        ? 'The API behind the BFF is not answering properly (bad gateway). Try again in a moment.'
        : 'The identity provider answered with an error or could not be reached (bad gateway). Try again in a moment.',
    );
  }
  if (status === 504) {
    return fail(
      isApi
        ? 'The API behind the BFF did not answer in time. Try again in a moment.'
        : 'The identity provider did not answer in time. Try again in a moment.',
    );
  }
  if (status === 503) return fail('The service is temporarily unavailable. Try again in a moment.');
  if (status >= 500) return fail('The server ran into a problem. Try again in a moment.');
  return fail(`The request failed (${statusLine(status)}).`);
}

// ---------------------------------------------------------------------------
// Issue 15: the session card is always the truth, and advice matches the state.

/** Epoch seconds as a date-time with the time zone, e.g. "27 Nov 2025, 08:00:00 UTC". */
export function formatEpochZoned(epochSeconds, opts = {}) {
  const date = new Date(Number(epochSeconds) * 1000);
  if (!isEpoch(epochSeconds) || Number.isNaN(date.getTime())) return 'unknown';
  return formatFields(date, DATE_TIME_FIELDS, opts, true);
}

/** Only a time of day with the zone ("08:00:04 UTC"), for "refreshed at". */
export function formatTimeZoned(epochSeconds, opts = {}) {
  if (!isEpoch(epochSeconds)) return '';
  return formatFields(new Date(epochSeconds * 1000), TIME_FIELDS, opts, true);
}

/** The access token as the BFF holds it: `{text, tone: 'ok'|'warn'|'bad'}`. */
export function accessTokenState(session, nowMs = Date.now()) {
  const s = session || {};
  const hasRt = s.hasRefreshToken === true;
  // Older BFFs send no hasAccessToken: an expiry means a token.
  const hasAt = s.hasAccessToken === true || (s.hasAccessToken === undefined && isEpoch(s.accessTokenExpiresAt));
  if (!hasAt) {
    return hasRt
      ? { text: 'none — the next API call gets a new one', tone: 'warn' }
      : { text: 'none — and no refresh token to get one: sign in again', tone: 'bad' };
  }
  if (!isEpoch(s.accessTokenExpiresAt)) return { text: 'held by the BFF (the provider gave no expiry)', tone: 'ok' };
  if (secondsUntil(s.accessTokenExpiresAt, nowMs) > 0) return { text: 'held by the BFF', tone: 'ok' };
  return hasRt
    ? { text: 'expired — the next API call refreshes it', tone: 'warn' }
    : { text: 'expired — and no refresh token to renew it: sign in again', tone: 'bad' };
}

/**
 * issue 12: how the session's tokens are bound to the BFF (the session summary's
 * `senderConstrained`): `{text, tone}`. A stolen bound token is useless without the
 * BFF's key; a bearer token works for anyone holding it.
 */
export function senderConstraint(session) {
  switch (session?.senderConstrained) {
    case 'dpop':
      return { text: 'DPoP: bound to the BFF\'s key (RFC 9449)', tone: 'ok' };
    case 'mtls':
      return { text: 'mutual TLS: bound to the BFF\'s certificate (RFC 8705)', tone: 'ok' };
    default:
      return { text: 'bearer: not sender-constrained', tone: 'muted' };
  }
}

/** The refresh token: `{text, tone}`. `revokedHere` when this page revoked it. */
export function refreshTokenState(session, { revokedHere = false } = {}) {
  const s = session || {};
  if (s.hasRefreshToken === true) {
    return { text: 'held by the BFF; it renews the access token when that runs out', tone: 'ok' };
  }
  return {
    text: revokedHere
      ? 'none — you revoked it; the session lasts only as long as its access token'
      : 'none (revoked, or the provider issued none); the session lasts only as long as its access token',
    tone: 'warn',
  };
}

/**
 * Whether the session can still call APIs: `{canContinue, reason}`. It cannot when the
 * access token is gone or expired and there is no refresh token to get another.
 */
export function sessionHealth(session, nowMs = Date.now()) {
  const s = session || {};
  if (s.hasRefreshToken === true) return { canContinue: true, reason: '' };
  const at = accessTokenState(s, nowMs);
  if (at.tone === 'bad') {
    return {
      canContinue: false,
      reason: 'This session has no usable access token and no refresh token, so it cannot call APIs any more. Sign in again to continue.',
    };
  }
  return { canContinue: true, reason: '' };
}

/**
 * The BFF refreshed by itself between two looks at the session (an /api call with an
 * expired, dropped or refused token): the access token changed without our asking.
 */
export function refreshedByBff(before, after) {
  if (!before || !after) return false;
  if (after.hasAccessToken === false) return false;
  const changed = after.accessTokenExpiresAt !== before.accessTokenExpiresAt;
  const regained = before.hasAccessToken === false && after.hasAccessToken === true;
  return isEpoch(after.accessTokenExpiresAt) && (changed || regained);
}

/** The proxy's rule: one refresh and one retry for a body-less GET, HEAD, OPTIONS or DELETE. */
export function bffRetriesOnInvalidToken(method, hasBody) {
  return !hasBody && ['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(String(method || 'GET').toUpperCase());
}

/**
 * Plain words and the next step for an answer, given what the session looks like
 * *after* it (re-read from the BFF). `ctx`: `{method, hasBody, before, after, refreshedByBff}`.
 * Answers `{ok, message, sessionEnded, action: 'sign-in'|'refresh'|null, stuck}`:
 * `stuck` when the session cannot continue (the page offers "Sign in again").
 */
export function adviceFor(status, body, path, ctx = {}) {
  const base = explainResponse(status, body, path);
  const after = ctx.after;
  const out = { ...base, action: null, stuck: false };
  if (base.sessionEnded) return { ...out, action: 'sign-in' };
  const health = after ? sessionHealth(after) : { canContinue: true };
  const isApi = String(path).startsWith('/api/');
  const code = errorCode(body);
  if (isApi && status === 401 && after) {
    const before = ctx.before || {};
    if (after.hasRefreshToken !== true) {
      return {
        ...out,
        message:
          'The API refused the access token, and this session has no refresh token to get a new one, so it cannot continue. Sign in again.',
        action: 'sign-in',
        stuck: true,
      };
    }
    const retried =
      ctx.refreshedByBff === true ||
      (bffRetriesOnInvalidToken(ctx.method, ctx.hasBody) && before.hasAccessToken !== false && code === 'invalid_token');
    if (retried) {
      return {
        ...out,
        message:
          'The API refused the access token even after the BFF refreshed it and retried once, so refreshing again will not help: this API does not accept the token.',
      };
    }
    return {
      ...out,
      message:
        'The API refused the access token. The BFF retries only body-less GET, HEAD, OPTIONS and DELETE requests, so this one was not retried: use “Refresh tokens”, then send it again.',
      action: 'refresh',
    };
  }
  if (status === 409 && code === 'no_refresh_token') {
    return { ...out, action: 'sign-in', stuck: !health.canContinue };
  }
  if (status === 409 && code === 'no_access_token') {
    return after && after.hasRefreshToken !== true
      ? { ...out, message: 'This session holds no access token and no refresh token. Sign in again.', action: 'sign-in', stuck: true }
      : { ...out, action: 'refresh' };
  }
  if (!health.canContinue) return { ...out, stuck: true, action: 'sign-in' };
  return out;
}

/** A short "what happened" line for a successful operation, or ''. */
export function successNote(path, body, ctx = {}) {
  const after = ctx.after || {};
  if (path === '/bff/revoke') {
    if (ctx.token === 'refresh_token') {
      return 'Revoked at the provider; the BFF dropped its refresh token. Some providers (the demo OP among them) end the access token with it.';
    }
    return after.hasRefreshToken === true
      ? 'Revoked at the provider; the BFF dropped its access token. The next API call gets a new one.'
      : 'Revoked at the provider; the BFF dropped its access token. With no refresh token left, sign in again to call APIs.';
  }
  if (path === '/bff/refresh') return 'New tokens from the provider; the card shows the new expiry.';
  if (path === '/bff/introspect' && body && typeof body === 'object') {
    return body.active === true ? 'The provider says this access token is active.' : 'The provider says this access token is not active (expired, revoked, or none held).';
  }
  if (ctx.refreshedByBff) return 'The BFF refreshed the access token on the way (see the session card).';
  return '';
}

/** Keys of a JSON answer whose numbers are points in time (introspection, the demo API). */
export const ANSWER_TIME_KEYS = Object.freeze(['exp', 'iat', 'nbf', 'auth_time', 'updated_at', 'expiresAt', 'absoluteExpiresAt', 'accessTokenExpiresAt', 'tokenExpiresAt']);

/** `[{key, text}]` for the time fields at the top level of a JSON answer, as dates. */
export function readableTimes(body, opts = {}, nowMs = Date.now()) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  return ANSWER_TIME_KEYS.filter((k) => isEpoch(body[k]) && body[k] > 0).map((k) => ({
    key: k,
    text: `${formatEpochZoned(body[k], opts)} (${formatRelative(body[k], nowMs)})`,
  }));
}

/**
 * A long value cut into pieces after "/", ".", "@", "-", "_", "?", "&", "=", ":" and "#",
 * so the page can offer line breaks there (`<wbr>`) instead of breaking mid-word.
 */
export function breakPieces(text) {
  const s = String(text ?? '');
  if (s.length < 16) return [s];
  const pieces = s.split(/(?<=[/.@\-_?&=:#])/);
  return pieces.filter((p) => p !== '');
}
