// Unit tests for the SPA's pure helpers. Run: node --test spa/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  computeReturnUrl,
  displayName,
  explainResponse,
  formatClaim,
  formatCountdown,
  formatDuration,
  formatEpoch,
  formatRelative,
  initials,
  isNavigableUrl,
  isSafeReturnUrl,
  loginErrorMessage,
  loginUrl,
  needsCsrf,
  orderedClaims,
  parseJsonBody,
  prettyBody,
  promptValue,
  readableValue,
  sanitizeCode,
  scopeList,
  statusLine,
  takeLoginError,
  validateApiPath,
} from './lib.js';

const UTC = { locale: 'en-GB', timeZone: 'UTC' };

test('formatDuration uses short units', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(60), '1m 0s');
  assert.equal(formatDuration(252), '4m 12s');
  assert.equal(formatDuration(3600 + 5 * 60 + 3), '1h 5m 3s');
  assert.equal(formatDuration(86400 * 3 + 3600 * 4 + 17), '3d 4h');
  assert.equal(formatDuration(86400), '1d');
  assert.equal(formatDuration(-5), '0s');
  assert.equal(formatDuration(12.9), '12s');
  assert.equal(formatDuration('nonsense'), '0s');
});

test('formatCountdown counts down and says expired', () => {
  const now = 1_700_000_000_000;
  const exp = now / 1000 + 252;
  assert.equal(formatCountdown(exp, now), 'expires in 4m 12s');
  assert.equal(formatCountdown(exp, now + 1000), 'expires in 4m 11s');
  assert.equal(formatCountdown(exp, now + 252_000), 'expired');
  assert.equal(formatCountdown(exp, now + 999_000), 'expired');
  assert.equal(formatCountdown(now / 1000 + 1, now + 500), 'expires in 1s');
  assert.equal(formatCountdown(now / 1000 + 1, now + 1000), 'expired');
  assert.equal(formatCountdown(null, now), 'no expiry given');
  assert.equal(formatCountdown(undefined, now), 'no expiry given');
});

test('formatRelative says in/ago', () => {
  const now = 1_700_000_000_000;
  assert.equal(formatRelative(now / 1000 + 90, now), 'in 1m 30s');
  assert.equal(formatRelative(now / 1000 - 90, now), '1m 30s ago');
  assert.equal(formatRelative(now / 1000, now), 'now');
  assert.equal(formatRelative(null, now), '');
});

test('formatEpoch gives a local date-time', () => {
  assert.equal(formatEpoch(0, UTC), '1 Jan 1970, 00:00:00');
  assert.equal(formatEpoch(1764230400, UTC), '27 Nov 2025, 08:00:00');
});

test('formatClaim: time claims show the date and the raw number', () => {
  for (const key of ['iat', 'exp', 'auth_time', 'updated_at']) {
    const f = formatClaim(key, 1764230400, UTC);
    assert.equal(f.text, '27 Nov 2025, 08:00:00');
    assert.equal(f.raw, '1764230400');
    assert.equal(f.multiline, false);
  }
  // A non-numeric value for a time claim is shown as it is.
  assert.deepEqual(formatClaim('updated_at', '2024-01-01T00:00:00Z', UTC), {
    text: '2024-01-01T00:00:00Z',
    multiline: false,
  });
});

test('formatClaim: plain values, arrays and nested objects', () => {
  assert.deepEqual(formatClaim('sub', 'demo-user-1'), { text: 'demo-user-1', multiline: false });
  assert.deepEqual(formatClaim('email_verified', true), { text: 'true', multiline: false });
  assert.deepEqual(formatClaim('amr', ['pwd', 'mfa']), { text: 'pwd, mfa', multiline: false });
  assert.deepEqual(formatClaim('middle_name', null), { text: 'null', multiline: false });
  const addr = formatClaim('address', { street_address: '1 Demo St', locality: 'Stockholm', country: 'SE' });
  assert.equal(addr.text, 'street_address: 1 Demo St\nlocality: Stockholm\ncountry: SE');
  assert.equal(addr.multiline, true);
});

test('readableValue indents nested objects and lists objects', () => {
  assert.equal(readableValue({ a: { b: 1, c: [1, 2] }, d: 'x' }), 'a:\n  b: 1\n  c: 1, 2\nd: x');
  assert.equal(readableValue([{ a: 1 }, { a: 2 }]), '- a: 1\n- a: 2');
  assert.equal(readableValue([]), '(none)');
  assert.equal(readableValue({}), '(empty)');
});

test('orderedClaims puts sub first and keeps the rest in order', () => {
  assert.deepEqual(
    orderedClaims({ name: 'N', sub: 'S', iat: 1 }).map(([k]) => k),
    ['sub', 'name', 'iat'],
  );
  assert.deepEqual(orderedClaims(null), []);
});

test('displayName falls back name → preferred_username → email → sub', () => {
  assert.equal(displayName({ name: 'Dana Demo', email: 'd@e.com', sub: 's' }), 'Dana Demo');
  assert.equal(displayName({ preferred_username: 'dana', email: 'd@e.com', sub: 's' }), 'dana');
  assert.equal(displayName({ email: 'd@e.com', sub: 's' }), 'd@e.com');
  assert.equal(displayName({ sub: 's' }), 's');
  assert.equal(displayName({ name: '  ', sub: 's' }), 's');
  assert.equal(displayName({}), 'there');
  assert.equal(displayName(undefined), 'there');
});

test('initials', () => {
  assert.equal(initials('Dana Demo'), 'DD');
  assert.equal(initials('dana'), 'D');
  assert.equal(initials('demo@example.com'), 'D');
  assert.equal(initials('ada.lovelace@example.com'), 'AL');
  assert.equal(initials(''), '?');
});

test('scopeList splits on whitespace', () => {
  assert.deepEqual(scopeList('openid profile  email'), ['openid', 'profile', 'email']);
  assert.deepEqual(scopeList(['openid', 'email']), ['openid', 'email']);
  assert.deepEqual(scopeList(undefined), []);
  assert.deepEqual(scopeList(''), []);
});

test('loginErrorMessage maps known codes', () => {
  assert.equal(loginErrorMessage('access_denied'), 'You cancelled the sign-in, or the provider refused it.');
  const replay = 'That sign-in link was already used or has expired. Please sign in again.';
  assert.equal(loginErrorMessage('invalid_state'), replay);
  assert.equal(loginErrorMessage('state_replayed'), replay);
  assert.match(loginErrorMessage('iss_mismatch'), /could not be verified/);
  assert.match(loginErrorMessage('invalid_id_token'), /^The identity provider's answer could not be verified/);
  for (const code of [
    'token_exchange_failed',
    'login_required',
    'consent_required',
    'interaction_required',
    'temporarily_unavailable',
    'server_error',
  ]) {
    const msg = loginErrorMessage(code);
    assert.ok(msg.length > 20, code);
    assert.doesNotMatch(msg, /error code/, code);
  }
});

test('loginErrorMessage shows unknown codes, but only safe ones', () => {
  assert.match(loginErrorMessage('weird_thing'), /error code: weird_thing/);
  assert.doesNotMatch(loginErrorMessage('<script>alert(1)</script>'), /script/);
  assert.equal(sanitizeCode('<b>'), '');
  assert.equal(sanitizeCode('a'.repeat(65)), '');
  assert.equal(sanitizeCode('access_denied'), 'access_denied');
  // Object.prototype keys are not messages.
  assert.match(loginErrorMessage('constructor'), /error code: constructor/);
  assert.match(loginErrorMessage('toString'), /error code: toString/);
});

test('takeLoginError reads and strips the parameter', () => {
  assert.deepEqual(takeLoginError('https://bff.example/?login_error=access_denied'), {
    code: 'access_denied',
    cleanUrl: '/',
  });
  assert.deepEqual(takeLoginError('https://bff.example/app?x=1&login_error=iss_mismatch#top'), {
    code: 'iss_mismatch',
    cleanUrl: '/app?x=1#top',
  });
  assert.deepEqual(takeLoginError('https://bff.example/app?x=1'), { code: null, cleanUrl: '/app?x=1' });
  assert.equal(takeLoginError('/?login_error=').code, '');
});

test('computeReturnUrl keeps path, query and hash, drops login_error', () => {
  assert.equal(computeReturnUrl({ pathname: '/', search: '', hash: '' }), '/');
  assert.equal(computeReturnUrl({ pathname: '/orders/7', search: '?tab=2', hash: '#x' }), '/orders/7?tab=2#x');
  assert.equal(computeReturnUrl({ pathname: '/', search: '?login_error=access_denied', hash: '' }), '/');
  assert.equal(computeReturnUrl('/a?login_error=x&b=1'), '/a?b=1');
  assert.equal(computeReturnUrl({ pathname: '//evil.example/', search: '', hash: '' }), '/');
  assert.equal(computeReturnUrl(undefined), '/');
});

test('isSafeReturnUrl rejects open redirects', () => {
  assert.ok(isSafeReturnUrl('/'));
  assert.ok(isSafeReturnUrl('/a/b?c=d'));
  for (const bad of ['', 'https://evil', '//evil', '/\\evil', '/%2fevil', '/%5Cevil', '/a b', '/a\tb', 'evil']) {
    assert.equal(isSafeReturnUrl(bad), false, bad);
  }
});

test('loginUrl encodes the return URL', () => {
  assert.equal(loginUrl('/'), '/bff/login?returnUrl=%2F');
  assert.equal(loginUrl('/a?b=1&c=2#d'), '/bff/login?returnUrl=%2Fa%3Fb%3D1%26c%3D2%23d');
  assert.equal(loginUrl(''), '/bff/login?returnUrl=%2F');
});

test('promptValue', () => {
  assert.equal(promptValue({}), null);
  assert.equal(promptValue(), null);
  assert.equal(promptValue({ forceLogin: true }), 'login');
  assert.equal(promptValue({ forceConsent: true }), 'consent');
  assert.equal(promptValue({ forceLogin: true, forceConsent: true }), 'login consent');
});

test('isNavigableUrl accepts only http(s)', () => {
  assert.ok(isNavigableUrl('https://op.example/auth?x=1'));
  assert.ok(isNavigableUrl('http://localhost:3000/session/end'));
  assert.ok(isNavigableUrl('/'));
  assert.equal(isNavigableUrl('javascript:alert(1)'), false);
  assert.equal(isNavigableUrl('data:text/html,hi'), false);
  assert.equal(isNavigableUrl(''), false);
  assert.equal(isNavigableUrl(undefined), false);
});

test('needsCsrf: state-changing /bff and all /api', () => {
  assert.equal(needsCsrf('GET', '/bff/user'), false);
  assert.equal(needsCsrf('GET', '/bff/userinfo'), false);
  for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'post']) assert.equal(needsCsrf(m, '/bff/logout'), true, m);
  for (const m of ['GET', 'POST', 'PUT', 'DELETE']) assert.equal(needsCsrf(m, '/api/data'), true, m);
  assert.equal(needsCsrf('GET', '/healthz'), false);
});

test('validateApiPath', () => {
  assert.equal(validateApiPath('/api/data'), null);
  assert.equal(validateApiPath('/api/data?x=1'), null);
  assert.equal(validateApiPath(' /api/items/7 '), null);
  assert.match(validateApiPath('/bff/user'), /must start with \/api\//);
  assert.match(validateApiPath('api/data'), /must start with \/api\//);
  assert.match(validateApiPath('https://evil/api/'), /must start with \/api\//);
  assert.match(validateApiPath('/api/../bff/logout'), /segments/);
  assert.match(validateApiPath('/api/%2e%2e/bff/logout'), /segments/);
  assert.match(validateApiPath('/api/a b'), /spaces/);
  assert.match(validateApiPath('/api/a\\b'), /backslashes/);
  assert.ok(validateApiPath(''));
});

test('parseJsonBody', () => {
  assert.deepEqual(parseJsonBody(''), { ok: true, body: null });
  assert.deepEqual(parseJsonBody('   '), { ok: true, body: null });
  assert.deepEqual(parseJsonBody('{ "a": 1 }'), { ok: true, body: '{"a":1}' });
  const bad = parseJsonBody('{a:1}');
  assert.equal(bad.ok, false);
  assert.match(bad.error, /not valid JSON/);
});

test('statusLine and prettyBody', () => {
  assert.equal(statusLine(200), '200 OK');
  assert.equal(statusLine(204), '204 No Content');
  assert.equal(statusLine(418), '418');
  assert.equal(statusLine(200, 'Fine'), '200 Fine');
  assert.equal(statusLine(0), 'No response');
  assert.equal(prettyBody(204, ''), '(no content)');
  assert.equal(prettyBody(200, ''), '(no content)');
  assert.equal(prettyBody(200, '{"a":1}'), '{\n  "a": 1\n}');
  assert.equal(prettyBody(500, 'oops'), 'oops');
  assert.match(prettyBody(200, 'x'.repeat(50), 10), /40 more characters/);
});

test('explainResponse: success', () => {
  assert.deepEqual(explainResponse(200, {}, '/bff/refresh'), { ok: true, message: '', sessionEnded: false });
  assert.equal(explainResponse(204, null, '/bff/revoke').ok, true);
});

test('explainResponse: session ended', () => {
  const ended = 'Your session has ended. Please sign in again.';
  for (const error of ['not_authenticated', 'session_expired']) {
    const r = explainResponse(401, { error }, '/bff/introspect');
    assert.equal(r.message, ended);
    assert.equal(r.sessionEnded, true);
    assert.equal(explainResponse(401, { error }, '/api/data').sessionEnded, true);
  }
  // Any 401 from /bff means the session can't continue (e.g. refresh failed).
  assert.equal(explainResponse(401, { error: 'invalid_grant' }, '/bff/refresh').sessionEnded, true);
  // An upstream API's own 401 is not the end of the BFF session.
  const api = explainResponse(401, { error: 'invalid_token' }, '/api/data');
  assert.equal(api.sessionEnded, false);
  assert.match(api.message, /revoked/);
});

test('explainResponse: csrf, unavailable, upstream trouble, network', () => {
  assert.match(explainResponse(403, { error: 'csrf' }, '/bff/revoke').message, /CSRF/);
  const na = 'This operation is not available on this server/provider.';
  assert.equal(explainResponse(404, { error: 'not_found' }, '/bff/introspect').message, na);
  assert.equal(explainResponse(501, { error: 'not_supported' }, '/bff/revoke').message, na);
  assert.equal(explainResponse(501, null, '/api/x').message, na);
  assert.match(explainResponse(404, null, '/api/nothing').message, /nothing at this path/);
  assert.match(explainResponse(502, { error: 'op_error' }, '/bff/userinfo').message, /identity provider/);
  assert.match(explainResponse(504, { error: 'op_timeout' }, '/bff/userinfo').message, /did not answer in time/);
  assert.match(explainResponse(502, null, '/api/data').message, /API/);
  assert.match(explainResponse(0, null, '/bff/user').message, /could not be reached/);
  assert.match(explainResponse(503, null, '/bff/user').message, /temporarily unavailable/);
  assert.match(explainResponse(500, null, '/bff/user').message, /problem/);
  assert.match(explainResponse(418, null, '/api/tea').message, /418/);
  for (const s of [400, 403, 404, 500, 502, 504]) assert.equal(explainResponse(s, null, '/bff/x').sessionEnded, false);
});

test('409 answers are explained in plain words', () => {
  const r = explainResponse(409, { error: 'no_refresh_token' }, '/bff/refresh');
  assert.equal(r.ok, false);
  assert.match(r.message, /no refresh token/);
  assert.match(explainResponse(409, { error: 'no_access_token' }, '/bff/introspect').message, /no access token/);
});

// ---------------------------------------------------------------------------
// Issue 15: state → card text and state → advice.

import {
  accessTokenState,
  adviceFor,
  breakPieces,
  bffRetriesOnInvalidToken,
  formatEpochZoned,
  formatTimeZoned,
  readableTimes,
  refreshTokenState,
  refreshedByBff,
  senderConstraint,
  sessionHealth,
  successNote,
} from './lib.js';

test('issue 12: the sender constraint of the session tokens', () => {
  assert.match(senderConstraint({ senderConstrained: 'dpop' }).text, /^DPoP: bound/);
  assert.equal(senderConstraint({ senderConstrained: 'dpop' }).tone, 'ok');
  assert.match(senderConstraint({ senderConstrained: 'mtls' }).text, /^mutual TLS/);
  assert.match(senderConstraint({ senderConstrained: null }).text, /^bearer/);
  assert.match(senderConstraint(undefined).text, /^bearer/);
});

const NOW = 1_800_000_000_000;
const T = NOW / 1000;
const live = { hasAccessToken: true, accessTokenExpiresAt: T + 200, hasRefreshToken: true, expiresAt: T + 3600, absoluteExpiresAt: T + 28800 };

test('times carry their zone', () => {
  assert.equal(formatEpochZoned(1764230400, UTC), '27 Nov 2025, 08:00:00 UTC');
  assert.equal(formatEpochZoned(1764230400, { locale: 'en-GB', timeZone: 'Europe/Berlin' }), '27 Nov 2025, 09:00:00 CET');
  assert.equal(formatEpochZoned(null, UTC), 'unknown');
  assert.equal(formatTimeZoned(1764230400, UTC), '08:00:00 UTC');
});

test('access-token state: held, none, expired, with and without a refresh token', () => {
  assert.deepEqual(accessTokenState(live, NOW), { text: 'held by the BFF', tone: 'ok' });
  const revoked = { ...live, hasAccessToken: false, accessTokenExpiresAt: null };
  assert.equal(accessTokenState(revoked, NOW).text, 'none — the next API call gets a new one');
  assert.equal(accessTokenState(revoked, NOW).tone, 'warn');
  assert.equal(accessTokenState({ ...revoked, hasRefreshToken: false }, NOW).tone, 'bad');
  assert.match(accessTokenState({ ...revoked, hasRefreshToken: false }, NOW).text, /sign in again/);
  const expired = { ...live, accessTokenExpiresAt: T - 1 };
  assert.equal(accessTokenState(expired, NOW).text, 'expired — the next API call refreshes it');
  assert.equal(accessTokenState({ ...expired, hasRefreshToken: false }, NOW).tone, 'bad');
  assert.match(accessTokenState({ ...live, accessTokenExpiresAt: null }, NOW).text, /no expiry/);
  // A BFF without hasAccessToken: an expiry means a token.
  assert.equal(accessTokenState({ accessTokenExpiresAt: T + 5, hasRefreshToken: true }, NOW).tone, 'ok');
});

test('refresh-token state says what its absence means', () => {
  assert.match(refreshTokenState(live).text, /^held by the BFF/);
  assert.match(refreshTokenState({ ...live, hasRefreshToken: false }, { revokedHere: true }).text, /you revoked it/);
  assert.match(refreshTokenState({ ...live, hasRefreshToken: false }).text, /revoked, or the provider issued none/);
});

test('sessionHealth: only a session with neither a usable access token nor a refresh token is stuck', () => {
  assert.equal(sessionHealth(live, NOW).canContinue, true);
  assert.equal(sessionHealth({ ...live, hasAccessToken: false, accessTokenExpiresAt: null }, NOW).canContinue, true);
  assert.equal(sessionHealth({ ...live, hasRefreshToken: false }, NOW).canContinue, true);
  const stuck = sessionHealth({ ...live, hasRefreshToken: false, hasAccessToken: false, accessTokenExpiresAt: null }, NOW);
  assert.equal(stuck.canContinue, false);
  assert.match(stuck.reason, /Sign in again/);
  assert.equal(sessionHealth({ ...live, hasRefreshToken: false, accessTokenExpiresAt: T - 5 }, NOW).canContinue, false);
});

test('refreshedByBff notices a new access token we did not ask for', () => {
  assert.equal(refreshedByBff(live, live), false);
  assert.equal(refreshedByBff(live, { ...live, accessTokenExpiresAt: T + 300 }), true);
  const none = { ...live, hasAccessToken: false, accessTokenExpiresAt: null };
  assert.equal(refreshedByBff(none, { ...live }), true);
  assert.equal(refreshedByBff(live, none), false, 'dropping the token is not a refresh');
  assert.equal(refreshedByBff(null, live), false);
});

test('bffRetriesOnInvalidToken follows the proxy rule', () => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'get']) assert.equal(bffRetriesOnInvalidToken(m, false), true, m);
  assert.equal(bffRetriesOnInvalidToken('GET', true), false);
  for (const m of ['POST', 'PUT', 'PATCH']) assert.equal(bffRetriesOnInvalidToken(m, false), false, m);
});

test('advice: API 401 with no refresh token left → Sign in again, stuck, never "try refresh"', () => {
  const after = { ...live, hasRefreshToken: false };
  const a = adviceFor(401, { error: 'invalid_token' }, '/api/data', { method: 'GET', hasBody: false, before: live, after });
  assert.equal(a.action, 'sign-in');
  assert.equal(a.stuck, true);
  assert.equal(a.sessionEnded, false);
  assert.match(a.message, /refused the access token/);
  assert.match(a.message, /Sign in again/);
  assert.doesNotMatch(a.message, /Refresh tokens/);
});

test('advice: API 401 after the BFF already refreshed and retried → no "try refresh"', () => {
  const after = { ...live, accessTokenExpiresAt: T + 300 };
  for (const ctx of [
    { method: 'GET', hasBody: false, before: live, after, refreshedByBff: true },
    // Same second, same expiry: the rule still says it retried.
    { method: 'GET', hasBody: false, before: live, after: live, refreshedByBff: false },
  ]) {
    const a = adviceFor(401, { error: 'invalid_token' }, '/api/invalid-token', ctx);
    assert.equal(a.action, null);
    assert.equal(a.stuck, false);
    assert.match(a.message, /refused the access token even after the BFF refreshed it/);
    assert.doesNotMatch(a.message, /Refresh tokens/);
  }
});

test('advice: API 401 on a request the BFF does not retry → use Refresh tokens', () => {
  const a = adviceFor(401, { error: 'invalid_token' }, '/api/data', { method: 'POST', hasBody: true, before: live, after: live });
  assert.equal(a.action, 'refresh');
  assert.match(a.message, /Refresh tokens/);
});

test('advice: 409 no_refresh_token offers Sign in again; stuck only when nothing is left', () => {
  const noRt = { ...live, hasRefreshToken: false };
  const a = adviceFor(409, { error: 'no_refresh_token' }, '/bff/refresh', { after: noRt });
  assert.equal(a.action, 'sign-in');
  assert.equal(a.stuck, false, 'the access token still works');
  assert.match(a.message, /no refresh token/);
  const b = adviceFor(409, { error: 'no_refresh_token' }, '/bff/refresh', { after: { ...noRt, hasAccessToken: false, accessTokenExpiresAt: null } });
  assert.equal(b.stuck, true);
});

test('advice: an ended session means sign in; success in a stuck session still offers it', () => {
  const ended = adviceFor(401, { error: 'session_expired' }, '/api/data', { after: null });
  assert.equal(ended.sessionEnded, true);
  assert.equal(ended.action, 'sign-in');
  const stuckAfter = { ...live, hasRefreshToken: false, hasAccessToken: false, accessTokenExpiresAt: null };
  const ok = adviceFor(204, null, '/bff/revoke', { after: stuckAfter });
  assert.equal(ok.ok, true);
  assert.equal(ok.stuck, true);
  assert.equal(ok.action, 'sign-in');
  const fine = adviceFor(200, {}, '/bff/userinfo', { after: live });
  assert.deepEqual([fine.ok, fine.action, fine.stuck, fine.message], [true, null, false, '']);
  // Without the state, the old wording stays.
  assert.match(adviceFor(401, { error: 'invalid_token' }, '/api/data').message, /Refresh tokens/);
});

test('successNote says what happened', () => {
  assert.match(successNote('/bff/revoke', null, { token: 'access_token', after: { ...live, hasAccessToken: false } }), /next API call gets a new one/);
  assert.match(successNote('/bff/revoke', null, { token: 'access_token', after: { hasRefreshToken: false } }), /sign in again/);
  assert.match(successNote('/bff/revoke', null, { token: 'refresh_token' }), /refresh token/);
  assert.match(successNote('/bff/introspect', { active: false }), /not active/);
  assert.match(successNote('/bff/introspect', { active: true }), /is active/);
  assert.match(successNote('/api/data', {}, { refreshedByBff: true }), /BFF refreshed/);
  assert.equal(successNote('/bff/userinfo', {}), '');
});

test('readableTimes turns exp/iat into dates', () => {
  const times = readableTimes({ active: true, exp: T + 60, iat: T - 240, sub: 'x', scope: 'openid' }, UTC, NOW);
  assert.deepEqual(times.map((t) => t.key), ['exp', 'iat']);
  assert.match(times[0].text, /UTC \(in 1m 0s\)$/);
  assert.match(times[1].text, /UTC \(4m 0s ago\)$/);
  assert.deepEqual(readableTimes({ exp: 'soon' }), []);
  assert.deepEqual(readableTimes(null), []);
  assert.deepEqual(readableTimes([1, 2]), []);
});

test('breakPieces offers breaks after separators, not inside words', () => {
  assert.deepEqual(breakPieces('short'), ['short']);
  assert.deepEqual(breakPieces('averyveryverylong.name@example.com'), ['averyveryverylong.', 'name@', 'example.', 'com']);
  assert.equal(breakPieces('https://localhost:8443/x').join(''), 'https://localhost:8443/x');
  assert.deepEqual(breakPieces(''), ['']);
});
