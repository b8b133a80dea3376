// Headless self-test of the demo OP: the flows oidc-bff depends on.
//
//   node demo/op/selftest.mjs
//       starts its own OP (server.mjs) on a free port, plus a small HTTPS
//       receiver standing in for the BFF's back-channel logout endpoint, runs
//       every check, stops both. Exit 0 when all pass, 1 otherwise.
//
//   SELFTEST_ISSUER=https://localhost:8443 node demo/op/selftest.mjs
//       tests an OP that is already running (with its own BFF_ORIGIN, given
//       here as SELFTEST_BFF_ORIGIN, default https://localhost:5443). The
//       back-channel delivery and rotation-specific checks are then skipped.
//
// Other env: SELFTEST_CA (default ../certs/ca.pem), OP_CLIENT_ID,
// OP_CLIENT_SECRET, OP_API_CLIENT_ID, OP_API_CLIENT_SECRET (same defaults as
// server.mjs). Needs only Node's standard library.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CERTS = path.join(HERE, '..', 'certs');
const env = process.env;

const CLIENT_ID = env.OP_CLIENT_ID || 'oidc-bff-demo';
const CLIENT_SECRET = env.OP_CLIENT_SECRET || 'demo-client-secret-not-for-production';
const API_CLIENT_ID = env.OP_API_CLIENT_ID || 'demo-api';
const API_CLIENT_SECRET = env.OP_API_CLIENT_SECRET || 'demo-api-secret-not-for-production';
const API_RESOURCE = env.OP_API_RESOURCE || 'urn:oidc-bff:demo-api';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const EXTERNAL = Boolean(env.SELFTEST_ISSUER);

let passed = 0;
let failed = 0;
const cleanups = [];

function ok(cond, what, detail) {
  if (cond) {
    passed += 1;
    console.log(`ok - ${what}`);
  } else {
    failed += 1;
    console.log(`not ok - ${what}${detail === undefined ? '' : ` :: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  }
  return cond;
}

function must(cond, what, detail) {
  if (!ok(cond, what, detail)) throw new Error(`required check failed: ${what}`);
}

async function finish(code) {
  for (const c of cleanups.reverse()) {
    try { await c(); } catch { /* ignore */ }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code);
}

const watchdog = setTimeout(() => {
  console.log('not ok - selftest timed out after 90 s');
  failed += 1;
  finish(1);
}, 90_000);

// ---------------------------------------------------------------------------
// HTTP helper with a tiny cookie jar
// ---------------------------------------------------------------------------

if (!EXTERNAL && !fs.existsSync(path.join(CERTS, 'localhost.pem'))) {
  execFileSync('bash', [path.join(HERE, '..', 'certs.sh')], { stdio: 'inherit' });
}
const CA = fs.readFileSync(env.SELFTEST_CA || path.join(CERTS, 'ca.pem'));
const agent = new https.Agent({ ca: CA, keepAlive: false });

class Jar {
  constructor() { this.cookies = new Map(); }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(setCookies = []) {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.split('=');
        return k.trim().toLowerCase() === 'expires' && Date.parse(v) < Date.now();
      });
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

function request(method, url, { jar, headers = {}, form, basic, bearer } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const h = { ...headers };
    let body;
    if (form) {
      body = Buffer.from(new URLSearchParams(form).toString());
      h['content-type'] = 'application/x-www-form-urlencoded';
      h['content-length'] = body.length;
    }
    if (basic) {
      const [id, secret] = basic;
      h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    if (bearer) h.authorization = `Bearer ${bearer}`;
    if (jar && jar.cookies.size) h.cookie = jar.header();
    const req = https.request(u, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (jar) jar.store(res.headers['set-cookie']);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        if ((res.headers['content-type'] || '').includes('json')) {
          try { json = JSON.parse(text); } catch { /* not json */ }
        }
        resolve({
          status: res.statusCode, headers: res.headers, text, json, location: res.headers.location,
        });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout ${method} ${url}`)));
    req.end(body);
  });
}

// ---------------------------------------------------------------------------
// JWT helpers (RS256 verify against the OP's JWKS, HS256 sign)
// ---------------------------------------------------------------------------

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

function verifyJwt(jwt, jwks) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return false;
  const { header } = decodeJwt(jwt);
  if (header.alg !== 'RS256') return false;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return false;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  return crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
}

function signHs256(payload, secret) {
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'oauth-authz-req+jwt' }));
  const p = b64u(JSON.stringify(payload));
  const s = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}

function pkce() {
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

// ---------------------------------------------------------------------------
// stand-in for the BFF's back-channel logout endpoint
// ---------------------------------------------------------------------------

const logoutTokens = [];

async function startReceiver() {
  const opts = {
    cert: fs.readFileSync(path.join(CERTS, 'localhost.pem')),
    key: fs.readFileSync(path.join(CERTS, 'localhost-key.pem')),
  };
  const handler = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/bff/backchannel-logout') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        logoutTokens.push({ contentType: req.headers['content-type'], token: form.get('logout_token') });
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  };
  const v4 = https.createServer(opts, handler);
  await new Promise((resolve, reject) => { v4.once('error', reject); v4.listen(0, '127.0.0.1', resolve); });
  const { port } = v4.address();
  cleanups.push(() => new Promise((r) => { v4.closeAllConnections(); v4.close(r); }));
  // localhost may resolve to ::1 first; listen there too when possible.
  const v6 = https.createServer(opts, handler);
  await new Promise((resolve) => {
    v6.once('error', () => resolve());
    v6.listen(port, '::1', () => {
      cleanups.push(() => new Promise((r) => { v6.closeAllConnections(); v6.close(r); }));
      resolve();
    });
  });
  return port;
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startOp(bffOrigin, extraEnv = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(HERE, 'server.mjs')], {
    env: {
      ...env,
      OP_PORT: String(port),
      OP_ISSUER: '',
      BFF_ORIGIN: bffOrigin,
      OP_REFRESH_TOKEN_ROTATION: 'always',
      OP_AUTO_CONSENT: '',
      OP_REVOKE_ACCESS_TOKEN_GRANT: '',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  cleanups.push(() => new Promise((r) => {
    if (child.exitCode !== null) return r();
    child.once('exit', r);
    child.kill('SIGTERM');
    setTimeout(() => { child.kill('SIGKILL'); r(); }, 3000).unref();
  }));
  const issuer = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`OP did not start:\n${log}`)), 20_000);
    child.stdout.on('data', (d) => {
      log += d;
      const m = log.match(/OP ready on (\S+)/);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    child.stderr.on('data', (d) => { log += d; });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`OP exited with ${code}:\n${log}`)); });
  });
  return { issuer, child, log: () => log };
}

// ---------------------------------------------------------------------------
// the browser part of the code flow, headless
// ---------------------------------------------------------------------------

function hasNoExternalResources(html) {
  return !/@import|(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i.test(html);
}

// Follows the OP's redirects and fills in login/consent pages until the
// redirect to redirectUri. Returns the callback's query parameters.
async function browse(jar, startUrl, redirectUri, {
  user, password, consent = 'allow', wrongPasswordFirst = false, checkPages = false,
}) {
  let url = startUrl;
  let method = 'GET';
  let form;
  const seen = { login: false, consent: false };
  for (let hop = 0; hop < 20; hop += 1) {
    const res = await request(method, url, { jar, form });
    method = 'GET';
    form = undefined;
    if ([302, 303].includes(res.status)) {
      const next = new URL(res.location, url).href;
      if (next.startsWith(redirectUri)) {
        return { params: Object.fromEntries(new URL(next).searchParams), seen };
      }
      url = next;
      continue;
    }
    if (res.status === 200 && res.text.includes('id="login-form"')) {
      seen.login = true;
      if (checkPages) {
        ok(['login-form', 'login', 'password', 'login-submit'].every((id) => res.text.includes(`id="${id}"`)),
          'login page has #login-form, #login, #password, #login-submit');
        ok(hasNoExternalResources(res.text), 'login page loads no external resources');
        ok(/default-src 'none'/.test(res.headers['content-security-policy'] || ''), 'login page sends a strict CSP');
      }
      const action = new URL(res.text.match(/id="login-form" method="post" action="([^"]+)"/)[1], url).href;
      if (wrongPasswordFirst) {
        wrongPasswordFirst = false;
        const bad = await request('POST', action, { jar, form: { prompt: 'login', login: user, password: 'wrong-password' } });
        ok(bad.status === 401 && bad.text.includes('id="login-error"') && bad.text.includes('id="login-form"'),
          'wrong password re-renders the login page with #login-error', bad.status);
      }
      method = 'POST';
      url = action;
      form = { prompt: 'login', login: user, password };
      continue;
    }
    if (res.status === 200 && res.text.includes('id="consent-form"')) {
      seen.consent = true;
      if (checkPages) {
        ok(res.text.includes('id="consent-submit"') && res.text.includes('id="consent-cancel"'),
          'consent page has #consent-submit and #consent-cancel');
        ok(hasNoExternalResources(res.text), 'consent page loads no external resources');
      }
      const action = new URL(res.text.match(/id="consent-form" method="post" action="([^"]+)"/)[1], url).href;
      method = 'POST';
      if (consent === 'deny') {
        url = `${action}/abort`;
        form = {};
      } else {
        url = action;
        form = { prompt: 'consent' };
      }
      continue;
    }
    throw new Error(`unexpected response ${res.status} at ${url}: ${res.text.slice(0, 300)}`);
  }
  throw new Error('too many redirects');
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

async function main() {
  let issuer;
  let bffOrigin;
  let op;
  if (EXTERNAL) {
    issuer = env.SELFTEST_ISSUER.replace(/\/+$/, '');
    bffOrigin = (env.SELFTEST_BFF_ORIGIN || 'https://localhost:5443').replace(/\/+$/, '');
    console.log(`# testing running OP ${issuer} (BFF origin ${bffOrigin})`);
  } else {
    const rport = await startReceiver();
    bffOrigin = `https://localhost:${rport}`;
    op = await startOp(bffOrigin);
    issuer = op.issuer;
    console.log(`# started OP ${issuer}, back-channel receiver ${bffOrigin}`);
  }
  const redirectUri = `${bffOrigin}/callback`;
  const bff = [CLIENT_ID, CLIENT_SECRET];
  const api = [API_CLIENT_ID, API_CLIENT_SECRET];

  // --- discovery -----------------------------------------------------------
  const disco = (await request('GET', `${issuer}/.well-known/openid-configuration`)).json;
  must(disco && disco.issuer === issuer, 'discovery answers with the issuer', disco?.issuer);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
    'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'pushed_authorization_request_endpoint']) {
    ok(typeof disco[k] === 'string' && disco[k].startsWith(issuer), `discovery has ${k}`, disco[k]);
  }
  ok(JSON.stringify(disco.code_challenge_methods_supported) === '["S256"]', 'PKCE: S256 only');
  ok(disco.backchannel_logout_supported && disco.backchannel_logout_session_supported, 'back-channel logout (with sid) supported');
  ok(disco.request_parameter_supported === true, 'request objects supported');
  ok(disco.claims_parameter_supported === true, 'claims parameter supported');
  ok(disco.authorization_response_iss_parameter_supported === true, 'RFC 9207 iss on the callback');
  const jwks = (await request('GET', disco.jwks_uri)).json;
  must(jwks?.keys?.length > 0 && jwks.keys.every((k) => !k.d), 'JWKS has public keys only');

  const authUrl = (extra) => `${disco.authorization_endpoint}?${new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, ...extra,
  })}`;

  // --- PKCE is required ----------------------------------------------------
  {
    const res = await request('GET', authUrl({ scope: 'openid', state: 's0', nonce: 'n0' }));
    const loc = res.location ? new URL(res.location, issuer) : undefined;
    ok(res.status === 303 && loc?.href.startsWith(redirectUri) && loc.searchParams.get('error') === 'invalid_request',
      'an authorization request without code_challenge is refused', res.location);
  }

  // --- code flow: demo user ------------------------------------------------
  const jar = new Jar();
  const p1 = pkce();
  const state1 = b64u(crypto.randomBytes(12));
  const nonce1 = b64u(crypto.randomBytes(12));
  const cb1 = await browse(jar, authUrl({
    scope: 'openid profile email address phone', state: state1, nonce: nonce1,
    code_challenge: p1.challenge, code_challenge_method: 'S256',
  }), redirectUri, { user: 'demo', password: 'demo-password', wrongPasswordFirst: true, checkPages: true });
  ok(cb1.seen.login && cb1.seen.consent, 'first sign-in shows login then consent');
  must(typeof cb1.params.code === 'string', 'callback carries a code', cb1.params);
  ok(cb1.params.state === state1, 'callback state matches');
  ok(cb1.params.iss === issuer, 'callback carries iss (RFC 9207)');

  const badVerifier = await request('POST', disco.token_endpoint, {
    basic: bff, form: { grant_type: 'authorization_code', code: cb1.params.code, redirect_uri: redirectUri, code_verifier: pkce().verifier },
  });
  ok(badVerifier.status === 400 && badVerifier.json?.error === 'invalid_grant', 'a wrong code_verifier is refused', badVerifier.json);
  // Use a fresh code for the real exchange.
  const p1b = pkce();
  const cb1b = await browse(jar, authUrl({
    scope: 'openid profile email address phone', state: state1, nonce: nonce1,
    code_challenge: p1b.challenge, code_challenge_method: 'S256',
  }), redirectUri, { user: 'demo', password: 'demo-password' });
  ok(!cb1b.seen.login && !cb1b.seen.consent, 'second authorization reuses the OP session and grant (no pages)');

  const tok = await request('POST', disco.token_endpoint, {
    basic: bff, form: { grant_type: 'authorization_code', code: cb1b.params.code, redirect_uri: redirectUri, code_verifier: p1b.verifier },
  });
  must(tok.status === 200, 'code exchange with client_secret_basic succeeds', tok.json || tok.text);
  const t1 = tok.json;
  ok(typeof t1.access_token === 'string' && !t1.access_token.includes('.'), 'access token is opaque', t1.access_token?.length);
  ok(typeof t1.refresh_token === 'string', 'refresh token issued without offline_access');
  ok(t1.token_type === 'Bearer', 'token_type Bearer');
  ok(Number.isInteger(t1.expires_in) && t1.expires_in > 0, 'expires_in present', t1.expires_in);
  must(typeof t1.id_token === 'string' && verifyJwt(t1.id_token, jwks), 'ID token verifies against the JWKS (RS256)');
  const id1 = decodeJwt(t1.id_token).payload;
  ok(id1.iss === issuer && id1.aud === CLIENT_ID && id1.nonce === nonce1, 'ID token iss/aud/nonce');
  ok(id1.sub === 'demo-user-1' && id1.name === 'Dana Demo' && id1.email === 'demo@example.com' && id1.email_verified === true,
    'ID token carries the profile and email claims', id1);
  ok(typeof id1.sid === 'string', 'ID token carries sid');

  const badSecret = await request('POST', disco.token_endpoint, {
    basic: [CLIENT_ID, 'wrong'], form: { grant_type: 'refresh_token', refresh_token: t1.refresh_token },
  });
  ok(badSecret.status === 401 && badSecret.json?.error === 'invalid_client', 'a wrong client secret is refused');

  // --- userinfo ------------------------------------------------------------
  const me = await request('GET', disco.userinfo_endpoint, { bearer: t1.access_token });
  ok(me.status === 200 && me.json?.sub === 'demo-user-1' && me.json.email === 'demo@example.com'
    && me.json.address?.locality === 'Example City' && me.json.phone_number === '+1 555 0100',
  '/me answers the scoped claims', me.json || me.status);

  // --- introspection -------------------------------------------------------
  const intro = await request('POST', disco.introspection_endpoint, { basic: api, form: { token: t1.access_token } });
  ok(intro.status === 200 && intro.json?.active === true && intro.json.client_id === CLIENT_ID
    && intro.json.sub === 'demo-user-1' && intro.json.scope?.split(' ').includes('openid'),
  'demo-api introspects the BFF access token: active', intro.json);
  const introBff = await request('POST', disco.introspection_endpoint, { basic: bff, form: { token: t1.refresh_token, token_type_hint: 'refresh_token' } });
  ok(introBff.json?.active === true, 'the BFF introspects its own refresh token: active');
  const introBad = await request('POST', disco.introspection_endpoint, { basic: [API_CLIENT_ID, 'wrong'], form: { token: t1.access_token } });
  ok(introBad.status === 401, 'introspection with a wrong secret is refused');
  const introJunk = await request('POST', disco.introspection_endpoint, { basic: api, form: { token: 'not-a-token' } });
  ok(introJunk.json?.active === false, 'an unknown token introspects as inactive');

  // --- client credentials (issue 11) ----------------------------------------
  ok(disco.grant_types_supported?.includes('client_credentials') && disco.grant_types_supported.includes(TOKEN_EXCHANGE),
    'discovery lists client_credentials and token exchange', disco.grant_types_supported);
  const introspect = async (token) => (await request('POST', disco.introspection_endpoint, { basic: api, form: { token } })).json;
  {
    const cc = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'client_credentials' } });
    ok(cc.status === 200 && typeof cc.json?.access_token === 'string' && cc.json.token_type === 'Bearer'
      && Number.isInteger(cc.json.expires_in) && !cc.json.refresh_token && !cc.json.id_token,
    'client_credentials without resource: a bearer token, no refresh/ID token', cc.json);
    const i = cc.json?.access_token ? await introspect(cc.json.access_token) : {};
    ok(i.active === true && i.client_id === CLIENT_ID && i.aud === undefined && i.sub === undefined,
      'client token without resource: active, no aud, no sub', i);
  }
  {
    const cc = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'client_credentials', resource: API_RESOURCE, scope: 'api:read openid' },
    });
    ok(cc.status === 200 && typeof cc.json?.access_token === 'string' && !cc.json.access_token.includes('.') && cc.json.scope === 'api:read',
      'client_credentials with resource: opaque token, scope = asked ∩ the resource\'s', cc.json);
    const i = cc.json?.access_token ? await introspect(cc.json.access_token) : {};
    ok(i.active === true && i.client_id === CLIENT_ID && i.aud === API_RESOURCE && i.sub === undefined && i.scope === 'api:read',
      'client token with resource: introspection shows aud, no sub', i);
    const meCc = cc.json?.access_token ? await request('GET', disco.userinfo_endpoint, { bearer: cc.json.access_token }) : {};
    ok(meCc.status === 401, '/me refuses a client token', meCc.status);
  }
  {
    const cc = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'client_credentials', resource: 'urn:example:unknown', scope: 'api:read' },
    });
    ok(cc.status === 400 && cc.json?.error === 'invalid_target' && cc.json.error_description === 'unknown resource urn:example:unknown',
      'client_credentials with an unknown resource: invalid_target with a description', cc.json);
    const noAuth = await request('POST', disco.token_endpoint, {
      basic: api, form: { grant_type: 'client_credentials', resource: API_RESOURCE },
    });
    ok(noAuth.status === 400 && noAuth.json?.error === 'invalid_request', 'the demo API client may not use client_credentials', noAuth.json);
  }

  // --- token exchange (RFC 8693, issue 11) ----------------------------------
  const exchange = (form, basic = bff) => request('POST', disco.token_endpoint, {
    basic, form: { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, ...form },
  });
  const subjectIntro = await introspect(t1.access_token);
  const xres = await exchange({ subject_token: t1.access_token, resource: API_RESOURCE, scope: 'api:read profile' });
  must(xres.status === 200 && typeof xres.json?.access_token === 'string', 'token exchange of the user\'s access token succeeds', xres.json);
  const xt = xres.json;
  ok(xt.issued_token_type === ACCESS_TOKEN_TYPE && xt.token_type === 'Bearer' && Number.isInteger(xt.expires_in)
    && xt.scope === 'api:read' && !xt.refresh_token && xt.access_token !== t1.access_token && !xt.access_token.includes('.'),
  'exchange answer: a new opaque access token, issued_token_type, scope ∩ the resource\'s', xt);
  const xi = await introspect(xt.access_token);
  ok(xi.active === true && xi.sub === 'demo-user-1' && xi.aud === API_RESOURCE && xi.client_id === CLIENT_ID && xi.scope === 'api:read',
    'exchanged token introspects with sub and aud', xi);
  ok(xi.exp <= subjectIntro.exp, 'exchanged token does not outlive the subject token', { exchanged: xi.exp, subject: subjectIntro.exp });
  {
    const byAudience = await exchange({ subject_token: t1.access_token, audience: API_RESOURCE, requested_token_type: ACCESS_TOKEN_TYPE });
    const i = byAudience.json?.access_token ? await introspect(byAudience.json.access_token) : {};
    ok(byAudience.status === 200 && i.aud === API_RESOURCE && i.scope === 'api:read api:write',
      'exchange by audience, no scope: every scope of the resource', { answer: byAudience.json, i });
    const meX = await request('GET', disco.userinfo_endpoint, { bearer: xt.access_token });
    // 403 insufficient_scope (a resource's token never has openid), else 401 for the aud.
    ok([401, 403].includes(meX.status), '/me refuses an exchanged token (audience, no openid)', meX.status);
  }
  {
    const r = await exchange({ subject_token: t1.access_token, resource: 'urn:example:unknown' });
    ok(r.status === 400 && r.json?.error === 'invalid_target' && r.json.error_description === 'unknown resource urn:example:unknown',
      'exchange for an unknown resource: invalid_target', r.json);
    const two = await request('POST', disco.token_endpoint, {
      basic: bff,
      form: new URLSearchParams([['grant_type', TOKEN_EXCHANGE], ['subject_token', t1.access_token],
        ['subject_token_type', ACCESS_TOKEN_TYPE], ['resource', API_RESOURCE], ['audience', API_RESOURCE]]),
    });
    ok(two.status === 400 && two.json?.error === 'invalid_target', 'exchange naming two targets: invalid_target', two.json);
    const none = await exchange({ subject_token: t1.access_token });
    ok(none.status === 400 && none.json?.error === 'invalid_target', 'exchange naming no target: invalid_target', none.json);
    const junk = await exchange({ subject_token: 'not-a-token', resource: API_RESOURCE });
    ok(junk.status === 400 && junk.json?.error === 'invalid_grant'
      && junk.json.error_description === 'subject_token is not an active access token of this client',
    'exchange of an unknown subject token: invalid_grant with a description', junk.json);
    const cc = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'client_credentials' } });
    const ccx = await exchange({ subject_token: cc.json?.access_token, resource: API_RESOURCE });
    ok(ccx.status === 400 && ccx.json?.error === 'invalid_grant', 'a client token is not a subject token: invalid_grant', ccx.json);
    const idx = await exchange({ subject_token: t1.id_token, resource: API_RESOURCE });
    ok(idx.status === 400 && idx.json?.error === 'invalid_grant', 'an ID token is not a subject token: invalid_grant', idx.json);
    const wrongType = await exchange({ subject_token: t1.access_token, resource: API_RESOURCE, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' });
    ok(wrongType.status === 400 && wrongType.json?.error === 'invalid_request', 'subject_token_type other than access_token: invalid_request', wrongType.json);
    const foreign = await exchange({ subject_token: t1.access_token, resource: API_RESOURCE }, api);
    ok(foreign.status === 400 && foreign.json?.error === 'invalid_request', 'the demo API client may not exchange', foreign.json);
    const badAuth = await exchange({ subject_token: t1.access_token, resource: API_RESOURCE }, [CLIENT_ID, 'wrong']);
    ok(badAuth.status === 401 && badAuth.json?.error === 'invalid_client', 'exchange needs client authentication', badAuth.json);
  }

  // --- refresh -------------------------------------------------------------
  const ref = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: t1.refresh_token } });
  must(ref.status === 200 && ref.json?.access_token, 'refresh grant succeeds', ref.json);
  const t2 = ref.json;
  ok(t2.access_token !== t1.access_token, 'refresh gives a new access token');
  ok(typeof t2.id_token === 'string' && decodeJwt(t2.id_token).payload.sub === 'demo-user-1', 'refresh gives a new ID token');
  if (!EXTERNAL) ok(t2.refresh_token && t2.refresh_token !== t1.refresh_token, 'refresh token rotates');
  const rt = t2.refresh_token || t1.refresh_token;

  // --- revocation ----------------------------------------------------------
  const rev = await request('POST', disco.revocation_endpoint, { basic: bff, form: { token: t2.access_token, token_type_hint: 'access_token' } });
  ok(rev.status === 200, 'revocation of the access token: 200', rev.status);
  const introRev = await request('POST', disco.introspection_endpoint, { basic: api, form: { token: t2.access_token } });
  ok(introRev.json?.active === false, 'a revoked access token introspects as inactive');
  const meRev = await request('GET', disco.userinfo_endpoint, { bearer: t2.access_token });
  ok(meRev.status === 401, 'a revoked access token is refused by /me', meRev.status);
  if (!EXTERNAL) {
    const rtAlive = await request('POST', disco.introspection_endpoint, { basic: bff, form: { token: rt } });
    ok(rtAlive.json?.active === true, 'revoking the access token leaves the refresh token active');
  }
  const revOther = await request('POST', disco.revocation_endpoint, { basic: api, form: { token: rt } });
  ok(revOther.status === 400, "a client cannot revoke another client's token", revOther.status);

  // --- RP-initiated logout + back-channel logout ---------------------------
  const endParams = {
    id_token_hint: t2.id_token || t1.id_token, post_logout_redirect_uri: `${bffOrigin}/`, client_id: CLIENT_ID, state: 'bye',
  };
  // GET (end_session_method "get") still shows the confirmation page...
  const endGet = await request('GET', `${disco.end_session_endpoint}?${new URLSearchParams(endParams)}`, { jar });
  ok(endGet.status === 200 && endGet.text.includes('id="logout-confirm"'), 'end_session by GET shows the confirmation page', endGet.status);
  // ...but the BFF sends it as a POST form (the ID token in no URL): that one is confirmed.
  const endPage = await request('POST', disco.end_session_endpoint, { jar, form: endParams });
  ok(endPage.status === 200 && endPage.text.includes('id="logout-confirm"'), 'end_session by POST shows the confirmation page with #logout-confirm', endPage.status);
  ok(hasNoExternalResources(endPage.text), 'logout page loads no external resources');
  const xsrf = endPage.text.match(/name="xsrf" value="([^"]+)"/)?.[1];
  const confirmAction = new URL(endPage.text.match(/<form id="op.logoutForm" method="post" action="([^"]+)"/)?.[1] || '/session/end/confirm', issuer).href;
  const bcBefore = logoutTokens.length;
  const conf = await request('POST', confirmAction, { jar, form: { xsrf, logout: 'yes' } });
  ok(conf.status === 303 && conf.location === `${bffOrigin}/?state=bye`, 'logout confirm redirects to post_logout_redirect_uri with state', conf.location);
  if (!EXTERNAL) {
    ok(logoutTokens.length === bcBefore + 1, 'the OP delivered a back-channel logout (before redirecting)', logoutTokens.length - bcBefore);
    const lt = logoutTokens[logoutTokens.length - 1];
    if (lt) {
      ok(lt.contentType?.startsWith('application/x-www-form-urlencoded'), 'back-channel logout is a form POST');
      const ok1 = verifyJwt(lt.token, jwks);
      const { payload } = decodeJwt(lt.token);
      ok(ok1 && payload.iss === issuer && payload.aud === CLIENT_ID && payload.sid === id1.sid && payload.sub === 'demo-user-1'
        && payload.events?.['http://schemas.openid.net/event/backchannel-logout'] && !payload.nonce && payload.jti,
      'logout token: signed, iss/aud/sub/sid/events/jti, no nonce', payload);
    }
    if (op) ok(/backchannel-logout delivered client=/.test(op.log()), 'the OP logged the delivery');
  }
  const refAfter = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: rt } });
  ok(refAfter.status === 400 && refAfter.json?.error === 'invalid_grant', 'after logout the refresh token is dead', refAfter.json);
  ok((await introspect(xt.access_token)).active === false, 'after logout the exchanged token is dead too (same grant)');
  {
    const r = await exchange({ subject_token: t1.access_token, resource: API_RESOURCE });
    ok(r.status === 400 && r.json?.error === 'invalid_grant', 'after logout the access token cannot be exchanged', r.json);
  }
  const done = await request('GET', new URL(`${new URL(disco.end_session_endpoint).pathname}/success`, issuer).href);
  ok(done.status === 200 && done.text.includes('id="logged-out"'), 'post-logout page has #logged-out');

  // --- consent denied --------------------------------------------------------
  {
    const j = new Jar();
    const p = pkce();
    const cb = await browse(j, authUrl({
      scope: 'openid email', state: 'deny', nonce: 'n', code_challenge: p.challenge, code_challenge_method: 'S256',
    }), redirectUri, { user: 'alice', password: 'alice-password', consent: 'deny' });
    ok(cb.params.error === 'access_denied' && cb.params.state === 'deny' && !cb.params.code, '#consent-cancel ends in error=access_denied', cb.params);
  }

  // --- request object (HS256 with the client secret) ---------------------
  const jar2 = new Jar();
  {
    const p = pkce();
    const now = Math.floor(Date.now() / 1000);
    const request2 = signHs256({
      iss: CLIENT_ID, aud: issuer, iat: now, nbf: now, exp: now + 300, jti: b64u(crypto.randomBytes(8)),
      client_id: CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope: 'openid profile',
      state: 'ro', nonce: 'ro-nonce', code_challenge: p.challenge, code_challenge_method: 'S256',
    }, CLIENT_SECRET);
    const url = `${disco.authorization_endpoint}?${new URLSearchParams({ client_id: CLIENT_ID, request: request2 })}`;
    const cb = await browse(jar2, url, redirectUri, { user: 'alice', password: 'alice-password' });
    ok(cb.params.code && cb.params.state === 'ro', 'code flow with an HS256 request object', cb.params);
    const t = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'authorization_code', code: cb.params.code, redirect_uri: redirectUri, code_verifier: p.verifier },
    });
    const idp = t.json?.id_token ? decodeJwt(t.json.id_token).payload : {};
    ok(idp.sub === 'demo-user-2' && idp.nonce === 'ro-nonce' && idp.name === 'Alice Example', 'request-object flow signs in alice', idp);
    // A replayed code is refused and revokes what the code gave (RFC 6749 4.1.2).
    const codeReplay = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'authorization_code', code: cb.params.code, redirect_uri: redirectUri, code_verifier: p.verifier },
    });
    ok(codeReplay.status === 400 && codeReplay.json?.error === 'invalid_grant', 'a code is single-use');
    const ia = await request('POST', disco.introspection_endpoint, { basic: api, form: { token: t.json.access_token } });
    ok(ia.json?.active === false, 'a replayed code revokes the tokens it had given');
  }

  // --- login with a resource indicator (issue 11) ---------------------------
  {
    const j = new Jar();
    const p = pkce();
    const cb = await browse(j, authUrl({
      scope: 'openid profile api:read', resource: API_RESOURCE, state: 'res', nonce: 'res-nonce',
      code_challenge: p.challenge, code_challenge_method: 'S256',
    }), redirectUri, { user: 'alice', password: 'alice-password' });
    must(cb.params.code, 'code flow with resource', cb.params);
    const code = (resource) => request('POST', disco.token_endpoint, {
      basic: bff,
      form: {
        grant_type: 'authorization_code', code: cb.params.code, redirect_uri: redirectUri, code_verifier: p.verifier, ...resource,
      },
    });
    const t = await code({ resource: API_RESOURCE });
    must(t.status === 200, 'code exchange with resource', t.json);
    const i = await introspect(t.json.access_token);
    ok(i.aud === API_RESOURCE && i.sub === 'demo-user-2' && i.scope === 'api:read',
      'login with resource: the access token has the aud and the resource scope', i);
    const meR = await request('GET', disco.userinfo_endpoint, { bearer: t.json.access_token });
    ok([401, 403].includes(meR.status), '/me refuses the login token with an audience', meR.status);
    const rNo = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: t.json.refresh_token } });
    const iNo = rNo.json?.access_token ? await introspect(rNo.json.access_token) : {};
    ok(rNo.status === 200 && iNo.aud === undefined, 'a refresh without resource gives an aud-less token', iNo);
    const rYes = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'refresh_token', refresh_token: rNo.json?.refresh_token, resource: API_RESOURCE },
    });
    const iYes = rYes.json?.access_token ? await introspect(rYes.json.access_token) : {};
    ok(rYes.status === 200 && iYes.aud === API_RESOURCE, 'a refresh with resource keeps the aud', iYes);
    const rTwo = await request('POST', disco.token_endpoint, {
      basic: bff,
      form: new URLSearchParams([['grant_type', 'refresh_token'], ['refresh_token', rYes.json?.refresh_token],
        ['resource', API_RESOURCE], ['resource', 'urn:example:other']]),
    });
    ok(rTwo.status === 400 && rTwo.json?.error === 'invalid_target', 'two resources at the token endpoint: invalid_target', rTwo.json);
  }

  // --- PAR + refresh token reuse detection + refresh token revocation -------
  async function parFlow(scope) {
    const p = pkce();
    const par = await request('POST', disco.pushed_authorization_request_endpoint, {
      basic: bff,
      form: {
        client_id: CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope, state: 'par', nonce: 'par-nonce',
        code_challenge: p.challenge, code_challenge_method: 'S256',
      },
    });
    must(par.status === 201 && par.json?.request_uri?.startsWith('urn:ietf:params:oauth:request_uri:'), 'PAR returns a request_uri', par.json);
    const url = `${disco.authorization_endpoint}?${new URLSearchParams({ client_id: CLIENT_ID, request_uri: par.json.request_uri })}`;
    const cb = await browse(jar2, url, redirectUri, { user: 'alice', password: 'alice-password' });
    must(cb.params.code && cb.params.state === 'par', 'code flow with PAR', cb.params);
    const t = await request('POST', disco.token_endpoint, {
      basic: bff, form: { grant_type: 'authorization_code', code: cb.params.code, redirect_uri: redirectUri, code_verifier: p.verifier },
    });
    must(t.status === 200 && t.json.refresh_token, 'PAR code exchange', t.json);
    return t.json;
  }
  {
    const t = await parFlow('openid profile');
    const r1 = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: t.refresh_token } });
    must(r1.status === 200, 'refresh after PAR', r1.json);
    if (!EXTERNAL && r1.json.refresh_token !== t.refresh_token) {
      const replay = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: t.refresh_token } });
      ok(replay.status === 400 && replay.json?.error === 'invalid_grant', 'a rotated-out refresh token is refused');
      const after = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token } });
      ok(after.status === 400 && after.json?.error === 'invalid_grant', 'refresh token reuse revokes the whole grant');
    }
  }
  {
    const t = await parFlow('openid');
    const rv = await request('POST', disco.revocation_endpoint, { basic: bff, form: { token: t.refresh_token, token_type_hint: 'refresh_token' } });
    ok(rv.status === 200, 'revocation of the refresh token: 200');
    const r = await request('POST', disco.token_endpoint, { basic: bff, form: { grant_type: 'refresh_token', refresh_token: t.refresh_token } });
    ok(r.status === 400 && r.json?.error === 'invalid_grant', 'a revoked refresh token is refused');
    const ia = await request('POST', disco.introspection_endpoint, { basic: api, form: { token: t.access_token } });
    ok(ia.json?.active === false, "revoking the refresh token also ends the grant's access token");
  }

  // --- an expired subject token cannot be exchanged (own OP, 2 s tokens) ----
  if (!EXTERNAL) {
    const short = await startOp(bffOrigin, { OP_ACCESS_TOKEN_TTL: '2', OP_AUTO_CONSENT: '1' });
    const sd = (await request('GET', `${short.issuer}/.well-known/openid-configuration`)).json;
    const p = pkce();
    const url = `${sd.authorization_endpoint}?${new URLSearchParams({
      client_id: CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope: 'openid', state: 'x', nonce: 'x',
      code_challenge: p.challenge, code_challenge_method: 'S256',
    })}`;
    const cb = await browse(new Jar(), url, redirectUri, { user: 'demo', password: 'demo-password' });
    const t = await request('POST', sd.token_endpoint, {
      basic: bff, form: { grant_type: 'authorization_code', code: cb.params.code, redirect_uri: redirectUri, code_verifier: p.verifier },
    });
    must(t.status === 200, 'short-lived OP: code exchange', t.json);
    const x = await request('POST', sd.token_endpoint, {
      basic: bff,
      form: {
        grant_type: TOKEN_EXCHANGE, subject_token: t.json.access_token, subject_token_type: ACCESS_TOKEN_TYPE, resource: API_RESOURCE,
      },
    });
    ok(x.status === 200 && x.json?.expires_in <= t.json.expires_in, 'short-lived OP: exchange ≤ the subject\'s lifetime', x.json);
    await new Promise((r) => { setTimeout(r, 3000); });
    const late = await request('POST', sd.token_endpoint, {
      basic: bff,
      form: {
        grant_type: TOKEN_EXCHANGE, subject_token: t.json.access_token, subject_token_type: ACCESS_TOKEN_TYPE, resource: API_RESOURCE,
      },
    });
    ok(late.status === 400 && late.json?.error === 'invalid_grant'
      && late.json.error_description === 'subject_token is not an active access token of this client',
    'an expired subject token: invalid_grant', late.json);
  }
}

main().then(
  () => { clearTimeout(watchdog); return finish(failed ? 1 : 0); },
  (err) => {
    clearTimeout(watchdog);
    failed += 1;
    console.log(`not ok - ${err.message}`);
    if (err.stack && !err.message.startsWith('required check failed')) console.log(err.stack);
    return finish(1);
  },
);
