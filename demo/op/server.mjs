// Demo and test OpenID Provider for oidc-bff, built on oidc-provider 9.
// NOT FOR PRODUCTION: in-memory storage, demo users, demo secrets.
//
// Every setting comes from an environment variable with a demo default;
// see README.md in this folder.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

// ---------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------

function intEnv(name, dflt) {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`OP config error: ${name} must be a positive integer (seconds/port), got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

function boolEnv(name, dflt = false) {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  return ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase());
}

const PORT = intEnv('OP_PORT', 8443);
const HOSTS = (env.OP_HOST || '127.0.0.1,::1').split(',').map((h) => h.trim()).filter(Boolean);
const ISSUER = (env.OP_ISSUER || `https://localhost:${PORT}`).replace(/\/+$/, '');
const TLS_CERT = env.OP_TLS_CERT || path.join(HERE, '..', 'certs', 'localhost.pem');
const TLS_KEY = env.OP_TLS_KEY || path.join(HERE, '..', 'certs', 'localhost-key.pem');
// Extra CA trusted for the OP's own outgoing requests (back-channel logout).
const CA_FILE = env.OP_CA_FILE ?? path.join(HERE, '..', 'certs', 'ca.pem');
const BFF_ORIGIN = (env.BFF_ORIGIN || 'https://localhost:5443').replace(/\/+$/, '');
const CLIENT_ID = env.OP_CLIENT_ID || 'oidc-bff-demo';
const CLIENT_SECRET = env.OP_CLIENT_SECRET || 'demo-client-secret-not-for-production';
const API_CLIENT_ID = env.OP_API_CLIENT_ID || 'demo-api';
const API_CLIENT_SECRET = env.OP_API_CLIENT_SECRET || 'demo-api-secret-not-for-production';
const ACCESS_TOKEN_TTL = intEnv('OP_ACCESS_TOKEN_TTL', 300);
// issue 11: client credentials and token exchange for the demo API resource
const API_RESOURCE = env.OP_API_RESOURCE || 'urn:oidc-bff:demo-api';
const API_SCOPES = env.OP_API_SCOPES || 'api:read api:write';
const CLIENT_TOKEN_TTL = intEnv('OP_CLIENT_TOKEN_TTL', 300);
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN_TTL = intEnv('OP_ID_TOKEN_TTL', 3600);
const REFRESH_TOKEN_TTL = intEnv('OP_REFRESH_TOKEN_TTL', 86400);
const SESSION_TTL = intEnv('OP_SESSION_TTL', 86400);
const ROTATION = (env.OP_REFRESH_TOKEN_ROTATION || 'always').toLowerCase();
const AUTO_CONSENT = boolEnv('OP_AUTO_CONSENT');
const REVOKE_AT_GRANT = boolEnv('OP_REVOKE_ACCESS_TOKEN_GRANT');
const DEBUG = boolEnv('OP_DEBUG');
const JWKS_FILE = env.OP_JWKS_FILE || '';
const COOKIE_KEYS = (env.OP_COOKIE_KEYS || '').split(',').map((k) => k.trim()).filter(Boolean);
// issue 12: sender-constrained tokens and the FAPI 2.0 profile.
// OP_FAPI=1: oidc-provider's FAPI 2.0 profile; the BFF's client then must use PAR,
// private_key_jwt (or mutual TLS) with PS256/ES256, DPoP-bound (or certificate-bound)
// tokens and PS256 ID tokens. Its public keys come from OP_CLIENT_JWKS (JSON) or
// OP_CLIENT_JWKS_URI.
const FAPI = boolEnv('OP_FAPI');
// OP_DPOP_NONCE=1: DPoP proofs at the token and PAR endpoints must carry a server nonce.
const DPOP_NONCE = boolEnv('OP_DPOP_NONCE');
// OP_MTLS=1: mutual TLS (RFC 8705): the OP asks for client certificates, accepts
// self_signed_tls_client_auth (the certificate in the client's jwks `x5c`) and binds
// access tokens to the certificate.
const MTLS = boolEnv('OP_MTLS');
const CLIENT_JWKS = env.OP_CLIENT_JWKS ? JSON.parse(env.OP_CLIENT_JWKS) : undefined;

if (!['always', 'default', 'never'].includes(ROTATION)) {
  console.error(`OP config error: OP_REFRESH_TOKEN_ROTATION must be always, default or never, got ${JSON.stringify(ROTATION)}`);
  process.exit(2);
}

if (!URL.canParse(API_RESOURCE) || API_RESOURCE.includes('#')) {
  console.error(`OP config error: OP_API_RESOURCE must be an absolute URI without a fragment, got ${JSON.stringify(API_RESOURCE)}`);
  process.exit(2);
}
if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(API_SCOPES)) {
  console.error(`OP config error: OP_API_SCOPES must be space-separated scope names, got ${JSON.stringify(API_SCOPES)}`);
  process.exit(2);
}

function readOrDie(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    console.error(`OP config error: cannot read ${what} ${file}: ${err.code || err.message} (run: bash demo/certs.sh)`);
    process.exit(2);
  }
}

const tlsCert = readOrDie(TLS_CERT, 'OP_TLS_CERT');
const tlsKey = readOrDie(TLS_KEY, 'OP_TLS_KEY');

// ---------------------------------------------------------------------------
// signing keys
// ---------------------------------------------------------------------------

function generateJwks() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  const kid = crypto.createHash('sha256')
    .update(JSON.stringify({ e: pub.e, kty: pub.kty, n: pub.n }))
    .digest('base64url');
  // issue 12: under OP_FAPI the key signs PS256 (FAPI 2.0 allows PS256, ES256, EdDSA).
  return { keys: [{ ...jwk, kid, alg: FAPI ? 'PS256' : 'RS256', use: 'sig' }] };
}

function loadJwks() {
  if (!JWKS_FILE) return generateJwks();
  if (fs.existsSync(JWKS_FILE)) {
    try {
      const jwks = JSON.parse(fs.readFileSync(JWKS_FILE, 'utf8'));
      if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error('no "keys" array');
      return jwks;
    } catch (err) {
      console.error(`OP config error: OP_JWKS_FILE ${JWKS_FILE}: ${err.message}`);
      process.exit(2);
    }
  }
  // Missing file: generate once and keep it, so restarts keep the same keys.
  const jwks = generateJwks();
  fs.mkdirSync(path.dirname(JWKS_FILE), { recursive: true });
  fs.writeFileSync(JWKS_FILE, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  console.log(`OP generated a signing key into ${JWKS_FILE}`);
  return jwks;
}

// ---------------------------------------------------------------------------
// demo accounts (in memory, real password check)
// ---------------------------------------------------------------------------

const USERS = [
  {
    username: 'demo',
    password: 'demo-password',
    claims: {
      sub: 'demo-user-1',
      name: 'Dana Demo',
      given_name: 'Dana',
      family_name: 'Demo',
      preferred_username: 'demo',
      nickname: 'dana',
      locale: 'en-US',
      zoneinfo: 'Europe/Berlin',
      updated_at: 1767225600,
      email: 'demo@example.com',
      email_verified: true,
      phone_number: '+1 555 0100',
      phone_number_verified: false,
      address: {
        formatted: '1 Demo Street\n12345 Example City\nExampleland',
        street_address: '1 Demo Street',
        locality: 'Example City',
        postal_code: '12345',
        country: 'Exampleland',
      },
    },
  },
  {
    username: 'alice',
    password: 'alice-password',
    claims: {
      sub: 'demo-user-2',
      name: 'Alice Example',
      given_name: 'Alice',
      family_name: 'Example',
      preferred_username: 'alice',
      locale: 'en-GB',
      zoneinfo: 'Europe/London',
      updated_at: 1767225600,
      email: 'alice@example.com',
      email_verified: false,
      phone_number: '+44 20 7946 0000',
      phone_number_verified: true,
      address: {
        formatted: '2 Sample Road\nLondon\nUK',
        street_address: '2 Sample Road',
        locality: 'London',
        country: 'UK',
      },
    },
  },
];

const usersBySub = new Map(USERS.map((u) => [u.claims.sub, u]));
const usersByName = new Map(USERS.map((u) => [u.username.toLowerCase(), u]));

function sha256(s) {
  return crypto.createHash('sha256').update(String(s), 'utf8').digest();
}

// Returns the account id, or undefined. Runs the same work for unknown users.
function authenticate(username, password) {
  const user = usersByName.get(String(username || '').trim().toLowerCase());
  const expected = sha256(user ? user.password : 'no-such-user\u0000');
  const ok = crypto.timingSafeEqual(expected, sha256(password ?? ''));
  return user && ok ? user.claims.sub : undefined;
}

async function findAccount(_ctx, sub) {
  const user = usersBySub.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes / claims.
    async claims() {
      return structuredClone(user.claims);
    },
  };
}

// ---------------------------------------------------------------------------
// HTML (no external resources; CSS served by the OP at /assets/op.css)
// ---------------------------------------------------------------------------

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

const CSS = `
:root{color-scheme:light dark;--bg:#f4f6fb;--card:#fff;--fg:#1d2433;--muted:#5b6475;--line:#d9dee8;--accent:#2f5bea;--accent-fg:#fff;--err-bg:#fdecec;--err-fg:#a61b1b}
@media (prefers-color-scheme:dark){:root{--bg:#11141b;--card:#1a1f2a;--fg:#e6e9f0;--muted:#9aa3b5;--line:#2c3444;--accent:#6d8cff;--accent-fg:#0b0e14;--err-bg:#3a1717;--err-fg:#ffb4b4}}
*{box-sizing:border-box}
html,body{margin:0;padding:0}
body{min-height:100vh;display:flex;align-items:center;justify-content:center;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;padding:24px}
main{width:100%;max-width:380px;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:28px 28px 22px;box-shadow:0 8px 30px rgba(0,0,0,.08)}
.brand{font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);margin:0 0 6px}
h1{font-size:1.4rem;margin:0 0 6px}
p{margin:0 0 14px;color:var(--muted)}
label{display:block;font-size:.9rem;font-weight:600;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;padding:10px 12px;font:inherit;color:var(--fg);background:transparent;border:1px solid var(--line);border-radius:8px}
input:focus{outline:2px solid var(--accent);outline-offset:1px}
.actions{display:flex;gap:10px;margin-top:20px}
button{flex:1;padding:10px 14px;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--accent);cursor:pointer}
button.primary{background:var(--accent);color:var(--accent-fg)}
button.secondary{background:transparent;color:var(--accent)}
.error{background:var(--err-bg);color:var(--err-fg);border-radius:8px;padding:10px 12px;margin:10px 0 0;font-size:.95rem}
ul.scopes{list-style:none;padding:0;margin:0 0 8px}
ul.scopes li{padding:8px 0;border-bottom:1px solid var(--line)}
ul.scopes li:last-child{border-bottom:0}
ul.scopes code{font-size:.8rem;color:var(--muted)}
.hint{margin-top:18px;font-size:.85rem;color:var(--muted)}
.hint code{font-size:.85rem}
footer{margin-top:18px;font-size:.75rem;color:var(--muted);text-align:center}
`.trim();

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Demo OP</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/op.css">
</head>
<body>
<main>
<p class="brand">oidc-bff demo provider</p>
${body}
<footer>Demo identity provider. Not for production use.</footer>
</main>
</body>
</html>
`;
}

function loginPage({ uid, clientName, login = '', error }) {
  return page('Sign in', `
<h1>Sign in</h1>
<p>to continue to <strong>${esc(clientName)}</strong></p>
${error ? `<div id="login-error" class="error" role="alert">${esc(error)}</div>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}" autocomplete="on">
<input type="hidden" name="prompt" value="login">
<label for="login">Username</label>
<input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${esc(login)}"${login ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${login ? ' autofocus' : ''}>
<div class="actions">
<button id="login-submit" class="primary" type="submit">Sign in</button>
</div>
</form>
<form id="login-abort-form" method="post" action="/interaction/${esc(uid)}/abort">
<div class="actions"><button id="login-cancel" class="secondary" type="submit">Cancel</button></div>
</form>
<p class="hint">Demo accounts: <code>demo</code> / <code>demo-password</code>, <code>alice</code> / <code>alice-password</code></p>
`);
}

const SCOPE_TEXT = {
  openid: 'Sign you in with your account',
  profile: 'Your name and basic profile',
  email: 'Your email address',
  address: 'Your postal address',
  phone: 'Your phone number',
  offline_access: 'Stay signed in while you are away',
};

function consentPage({ uid, clientName, accountName, scopes, claims }) {
  const items = scopes.map((s) => `<li>${esc(SCOPE_TEXT[s] || s)} <code>${esc(s)}</code></li>`);
  for (const c of claims) items.push(`<li>Claim <code>${esc(c)}</code></li>`);
  return page('Authorize', `
<h1>Authorize ${esc(clientName)}</h1>
<p>Signed in as <strong>${esc(accountName)}</strong>. <strong>${esc(clientName)}</strong> asks for:</p>
<ul class="scopes" id="consent-scopes">${items.join('') || '<li>Access it already had</li>'}</ul>
<form id="consent-form" method="post" action="/interaction/${esc(uid)}">
<input type="hidden" name="prompt" value="consent">
<div class="actions">
<button id="consent-cancel" class="secondary" type="submit" formaction="/interaction/${esc(uid)}/abort">Deny</button>
<button id="consent-submit" class="primary" type="submit" autofocus>Allow</button>
</div>
</form>
`);
}

function messagePage(title, html, id) {
  return page(title, `<div id="${esc(id)}"><h1>${esc(title)}</h1>${html}</div>`);
}

// ---------------------------------------------------------------------------
// outgoing requests (back-channel logout): loopback allowed, demo CA trusted
// ---------------------------------------------------------------------------

// oidc-provider passes an SSRF-protecting undici dispatcher that refuses
// loopback/private addresses; a local demo needs exactly those. We replace it
// with an undici Agent (the constructor of Node's global dispatcher, so no
// extra dependency) that trusts the system roots plus OP_CA_FILE.
let outgoingDispatcher;
let outgoingTrust = 'system roots (+ NODE_EXTRA_CA_CERTS)';
if (CA_FILE && fs.existsSync(CA_FILE)) {
  try {
    void globalThis.Response; // makes Node initialise its global undici dispatcher
    const Agent = (globalThis[Symbol.for('undici.globalDispatcher.2')]
      ?? globalThis[Symbol.for('undici.globalDispatcher.1')])?.constructor;
    if (typeof Agent !== 'function') throw new Error('undici Agent not reachable');
    const ca = [...tls.rootCertificates, fs.readFileSync(CA_FILE, 'utf8')];
    outgoingDispatcher = new Agent({ connect: { ca } });
    outgoingTrust = `system roots + ${CA_FILE}`;
  } catch (err) {
    console.warn(`OP warning: cannot trust ${CA_FILE} for outgoing requests (${err.message}); set NODE_EXTRA_CA_CERTS instead`);
  }
} else if (env.OP_CA_FILE) {
  console.error(`OP config error: OP_CA_FILE ${CA_FILE} not found`);
  process.exit(2);
}

function outgoingFetch(url, options) {
  delete options.dispatcher;
  if (outgoingDispatcher) options.dispatcher = outgoingDispatcher;
  return globalThis.fetch(url, options);
}

// ---------------------------------------------------------------------------
// provider
// ---------------------------------------------------------------------------

const bffClient = {
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  client_name: env.OP_CLIENT_NAME || 'oidc-bff demo',
  redirect_uris: [`${BFF_ORIGIN}/callback`],
  post_logout_redirect_uris: [...new Set([`${BFF_ORIGIN}/`, BFF_ORIGIN])],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  backchannel_logout_uri: `${BFF_ORIGIN}/bff/backchannel-logout`,
  backchannel_logout_session_required: true,
  // request_object_signing_alg is left unset on purpose: any enabled alg is
  // accepted (HS256 with the client secret needs nothing else; RS256 & co.
  // need the client's keys, see OP_CLIENT_JWKS_URI).
};
if (env.OP_EXTRA_REDIRECT_URIS) {
  bffClient.redirect_uris.push(...env.OP_EXTRA_REDIRECT_URIS.split(',').map((s) => s.trim()).filter(Boolean));
}
if (env.OP_CLIENT_JWKS_URI) bffClient.jwks_uri = env.OP_CLIENT_JWKS_URI;
if (CLIENT_JWKS) bffClient.jwks = CLIENT_JWKS;
if (FAPI) {
  // What a FAPI 2.0 client registers (FAPI 2.0 Security Profile 5.3, 5.4).
  delete bffClient.client_secret;
  bffClient.require_pushed_authorization_requests = true;
  bffClient.id_token_signed_response_alg = 'PS256';
  if (MTLS) {
    bffClient.token_endpoint_auth_method = 'self_signed_tls_client_auth';
    bffClient.tls_client_certificate_bound_access_tokens = true;
  } else {
    bffClient.token_endpoint_auth_method = 'private_key_jwt';
    bffClient.token_endpoint_auth_signing_alg = 'PS256';
    bffClient.dpop_bound_access_tokens = true;
  }
} else if (MTLS) {
  delete bffClient.client_secret;
  bffClient.token_endpoint_auth_method = 'self_signed_tls_client_auth';
  bffClient.tls_client_certificate_bound_access_tokens = true;
}

const apiClient = {
  client_id: API_CLIENT_ID,
  client_secret: API_CLIENT_SECRET,
  client_name: 'oidc-bff demo API',
  redirect_uris: [],
  grant_types: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  // issue 12: oidc-provider checks every client's metadata against its FAPI 2.0 profile.
  ...(FAPI ? { id_token_signed_response_alg: 'PS256' } : {}),
};

// 3. bench/run (issue 14): Apache httpd + mod_auth_openidc, the peer a sidecar user
// would pick, measured next to oidc-bff; its redirect URI is its vanity URL under /api/.
const benchApacheClient = {
  client_id: env.OP_BENCH_APACHE_CLIENT_ID || 'bench-apache',
  client_secret: env.OP_BENCH_APACHE_CLIENT_SECRET || 'bench-apache-secret-not-for-production',
  client_name: 'Apache httpd + mod_auth_openidc (bench)',
  redirect_uris: [env.OP_BENCH_APACHE_REDIRECT_URI || 'http://localhost:28084/api/redirect_uri'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...(FAPI ? { id_token_signed_response_alg: 'PS256' } : {}),
};

// Resource servers (RFC 8707) the BFF may ask tokens for. Opaque tokens: the
// demo API introspects them (introspection shows their `aud`).
const RESOURCE_SERVERS = {
  [API_RESOURCE]: { scope: API_SCOPES, audience: API_RESOURCE, accessTokenFormat: 'opaque' },
};

function resourceServer(indicator, client) {
  const info = Object.hasOwn(RESOURCE_SERVERS, indicator) ? RESOURCE_SERVERS[indicator] : undefined;
  if (!info || client.clientId !== CLIENT_ID) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
  return structuredClone(info);
}

const rotateRefreshToken = {
  always: true,
  never: false,
  default: undefined, // oidc-provider's own policy
}[ROTATION];

const configuration = {
  clients: [bffClient, apiClient, benchApacheClient],
  findAccount,
  jwks: loadJwks(),
  cookies: {
    keys: COOKIE_KEYS.length ? COOKIE_KEYS : [crypto.randomBytes(32).toString('base64url')],
    // The session cookie must come along on a cross-site POST (the BFF's logout form),
    // which oidc-provider requires for enableHttpPostMethods. Secure: the OP is https.
    long: { httpOnly: true, sameSite: 'none', secure: true },
  },
  // RP-initiated logout by POST (the BFF's logout page posts id_token_hint in a form,
  // never in a URL); this also accepts POST at the authorization endpoint.
  enableHttpPostMethods: true,
  // issue 12: DPoP proofs signed with an RSA key (PS256, FAPI 2.0's RSA algorithm) as
  // well as oidc-provider's default ES256 and EdDSA.
  enabledJWA: { dPoPSigningAlgValues: ['ES256', 'PS256', 'Ed25519', 'EdDSA'] },
  // issue 12: mutual TLS client authentication joins the default methods.
  ...(MTLS ? {
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt',
      'private_key_jwt', 'none', 'self_signed_tls_client_auth'],
  } : {}),
  scopes: ['openid', 'profile', 'email', 'address', 'phone', 'offline_access'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
      'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
    email: ['email', 'email_verified'],
    address: ['address'],
    phone: ['phone_number', 'phone_number_verified'],
    acr: null,
    amr: null,
    sid: null,
    auth_time: null,
    iss: null,
  },
  // Put the scope claims into the ID token too (the BFF shows ID token claims).
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true }, // only S256 is supported
  features: {
    devInteractions: { enabled: false },
    introspection: {
      enabled: true,
      // Default (9.13): any authenticated non-public client may introspect any
      // token. Made explicit: the token's own client, or the demo API.
      allowedPolicy(ctx, client, token) {
        return client.clientId === token.clientId || client.clientId === API_CLIENT_ID;
      },
    },
    revocation: {
      enabled: true,
      // A client revokes only its own tokens (as the default policy). Stock
      // oidc-provider 9.13 revokes every token of the grant (refresh tokens
      // too) when an access token is revoked; by default this OP revokes just
      // that access token (RFC 7009's minimum) unless
      // OP_REVOKE_ACCESS_TOKEN_GRANT=1. Revoking a refresh token always ends
      // the whole grant.
      async allowedPolicy(ctx, client, token) {
        if (token.clientId !== client.clientId) {
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        }
        if (token.kind === 'AccessToken' && !REVOKE_AT_GRANT) {
          await token.destroy();
          return false; // done here; skips the grant-wide revocation
        }
        return true;
      },
    },
    userinfo: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.set('content-security-policy', CSP);
        const clientName = ctx.oidc.client?.clientName || ctx.oidc.client?.clientId;
        ctx.type = 'html';
        ctx.body = page('Sign out', `
<h1>Sign out?</h1>
<p>${clientName ? `<strong>${esc(clientName)}</strong> asks to sign you out. ` : ''}Do you want to sign out of the demo provider?</p>
${form}
<div class="actions">
${clientName ? '<button id="logout-app-only" class="secondary" type="submit" form="op.logoutForm">This app only</button>\n' : ''}<button id="logout-confirm" class="primary" type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
</div>
`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.set('content-security-policy', CSP);
        const clientName = ctx.oidc.client?.clientName || ctx.oidc.client?.clientId;
        ctx.type = 'html';
        ctx.body = messagePage('Signed out', `<p>You have been signed out${clientName ? ` of <strong>${esc(clientName)}</strong>` : ''}.</p>`, 'logged-out');
      },
    },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: FAPI },
    // issue 12: DPoP (on by default in oidc-provider 9), with server nonces on demand.
    dPoP: {
      enabled: true,
      ...(DPOP_NONCE ? { nonceSecret: crypto.randomBytes(32), requireNonce: () => true } : {}),
    },
    ...(FAPI ? { fapi: { enabled: true, profile: '2.0' } } : {}),
    ...(MTLS ? {
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        // The TLS socket's peer certificate (the server asks for one, see listen).
        getCertificate(ctx) {
          const cert = ctx.req.socket.getPeerX509Certificate?.();
          return cert || undefined;
        },
      },
    } : {}),
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    claimsParameter: { enabled: true },
    clientCredentials: { enabled: true },
    // Stock defaultResource/useGrantedResource: a request without `resource`
    // gets today's aud-less token (usable at /me); several `resource` values
    // at the token endpoint are invalid_target. A token with an audience is
    // refused by /me (oidc-provider), but introspects.
    resourceIndicators: {
      enabled: true,
      getResourceServerInfo: async (_ctx, indicator, client) => resourceServer(indicator, client),
    },
  },
  async issueRefreshToken(_ctx, client, _source) {
    // Any client allowed the refresh_token grant gets one, without
    // offline_access / prompt=consent.
    return client.grantTypeAllowed('refresh_token');
  },
  ...(rotateRefreshToken === undefined ? {} : { rotateRefreshToken }),
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: CLIENT_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: ID_TOKEN_TTL,
    RefreshToken: REFRESH_TOKEN_TTL,
    Session: SESSION_TTL,
    Grant: Math.max(REFRESH_TOKEN_TTL, SESSION_TTL),
    Interaction: 3600,
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async renderError(ctx, out) {
    ctx.set('content-security-policy', CSP);
    ctx.type = 'html';
    ctx.body = messagePage('Something went wrong', `
<div class="error"><strong>${esc(out.error)}</strong>${out.error_description ? `: ${esc(out.error_description)}` : ''}</div>`, 'op-error');
  },
  fetch: outgoingFetch,
};

const provider = new Provider(ISSUER, configuration);
if (env.OP_PROXY === '1') provider.proxy = true;

// RFC 8693 token exchange (issue 11): the BFF trades a user's access token for
// one meant for a resource server. Registered before the first Client.find
// (static clients are validated lazily), so the client may list the grant.
// Built-in grant helpers are not passed to custom grants: the answer is built
// here by hand.
provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const { params, client } = ctx.oidc;
  if (!params.subject_token) throw new errors.InvalidRequest('subject_token is missing');
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('subject_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('only access tokens are issued (requested_token_type)');
  }
  // find() checks expiry (and the OP session for session-bound tokens);
  // revoked tokens are gone. Client-credentials tokens are another model.
  const subject = await provider.AccessToken.find(params.subject_token);
  if (!subject?.isValid || subject.clientId !== client.clientId || !subject.accountId) {
    // InvalidGrant's text goes to error_detail, which is not sent.
    throw new errors.CustomOIDCProviderError('invalid_grant', 'subject_token is not an active access token of this client');
  }
  if (subject.grantId) {
    const grant = await provider.Grant.find(subject.grantId);
    if (!grant || grant.clientId !== client.clientId || grant.accountId !== subject.accountId) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'subject_token is not an active access token of this client');
    }
  }
  const targets = [params.resource, params.audience].flat().filter(Boolean);
  if (targets.length !== 1) throw new errors.InvalidTarget('name exactly one resource or audience');
  const rs = new provider.ResourceServer(targets[0], resourceServer(targets[0], client));
  const wanted = params.scope ? params.scope.split(' ') : [...rs.scopes];
  const at = new provider.AccessToken({
    accountId: subject.accountId,
    client,
    grantId: subject.grantId,
    gty: 'token_exchange',
    sessionUid: subject.sessionUid,
    expiresWithSession: subject.expiresWithSession,
    sid: subject.sid,
    scope: wanted.filter((s) => rs.scopes.has(s)).join(' ') || undefined,
    // Never outlives the subject token.
    expiresIn: Math.max(1, Math.min(ACCESS_TOKEN_TTL, subject.remainingTTL)),
  });
  at.resourceServer = rs; // sets aud
  ctx.oidc.entity('AccessToken', at);
  const value = await at.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: at.tokenType,
    expires_in: at.expiration,
    ...(at.scope ? { scope: at.scope } : {}),
  };
}, ['subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'audience', 'scope'],
['resource', 'audience']);

// One line per back-channel logout delivery (never the token).
provider.on('backchannel.success', (_ctx, client, accountId, sid) => {
  console.log(`backchannel-logout delivered client=${client.clientId} sub=${accountId} sid=${sid} uri=${client.backchannelLogoutUri}`);
});
provider.on('backchannel.error', (_ctx, err, client, accountId, sid) => {
  const cause = err.cause ? ` (${err.cause.code || err.cause.message})` : '';
  console.log(`backchannel-logout FAILED client=${client.clientId} sub=${accountId} sid=${sid} uri=${client.backchannelLogoutUri} error=${err.message}${cause}`);
});
provider.on('server_error', (ctx, err) => {
  console.error(`OP server_error ${ctx.method} ${ctx.path}: ${err.stack || err}`);
});
if (DEBUG) {
  for (const ev of ['authorization.error', 'grant.error', 'introspection.error', 'revocation.error',
    'userinfo.error', 'end_session.error', 'end_session_confirm.error', 'pushed_authorization_request.error',
    'interaction.error']) {
    provider.on(ev, (ctx, err) => {
      console.log(`OP ${ev} ${ctx.method} ${ctx.path}: ${err.error || err.message}${err.error_description ? ` - ${err.error_description}` : ''}${err.error_detail ? ` (${err.error_detail})` : ''}`);
    });
  }
  provider.on('grant.success', (ctx) => console.log(`OP grant.success ${ctx.oidc.params.grant_type} client=${ctx.oidc.client?.clientId}`));
}

// ---------------------------------------------------------------------------
// interaction routes (login, consent, abort) and static assets
// ---------------------------------------------------------------------------

async function readForm(req) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  if (type !== 'application/x-www-form-urlencoded') {
    throw Object.assign(new Error('expected an application/x-www-form-urlencoded form'), { status: 415 });
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html, extraHeaders = {}) {
  const body = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...extraHeaders,
  });
  res.end(body);
}

async function clientNameOf(clientId) {
  const client = await provider.Client.find(clientId);
  return client?.clientName || clientId;
}

async function grantConsent(interaction) {
  const { prompt: { details }, params, session: { accountId } } = interaction;
  let { grantId } = interaction;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  if (details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  grantId = await grant.save();
  return interaction.grantId ? {} : { consent: { grantId } };
}

async function renderInteraction(req, res, interaction, extra = {}) {
  const { uid, prompt, params, session } = interaction;
  const clientName = await clientNameOf(params.client_id);
  if (prompt.name === 'login') {
    return send(res, extra.status || 200, loginPage({
      uid, clientName, login: extra.login ?? params.login_hint ?? '', error: extra.error,
    }));
  }
  if (prompt.name === 'consent') {
    if (AUTO_CONSENT) {
      const result = await grantConsent(interaction);
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    }
    const account = usersBySub.get(session?.accountId);
    const scopes = prompt.details.missingOIDCScope || [];
    return send(res, 200, consentPage({
      uid,
      clientName,
      accountName: account?.claims.name || session?.accountId || 'unknown',
      scopes,
      claims: prompt.details.missingOIDCClaims || [],
    }));
  }
  return send(res, 400, messagePage('Something went wrong', `<p>Unsupported prompt: ${esc(prompt.name)}</p>`, 'op-error'));
}

async function handleInteraction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|consent|abort))?\/?$/);
  if (!m) return send(res, 404, messagePage('Not found', '<p>No such page.</p>', 'op-error'));
  const [, uid, action] = m;

  let interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) {
      return send(res, 400, messagePage('Sign-in expired', '<p>This sign-in request has expired or was already used. Go back to the application and start again.</p>', 'op-error'));
    }
    throw err;
  }
  if (interaction.uid !== uid) {
    return send(res, 400, messagePage('Sign-in expired', '<p>This sign-in request does not match your browser session. Start again from the application.</p>', 'op-error'));
  }

  if (req.method === 'GET' || req.method === 'HEAD') {
    if (action) return send(res, 405, messagePage('Not allowed', '<p>Use the form.</p>', 'op-error'), { allow: 'POST' });
    return renderInteraction(req, res, interaction);
  }
  if (req.method !== 'POST') {
    return send(res, 405, messagePage('Not allowed', '<p>Method not allowed.</p>', 'op-error'), { allow: 'GET, POST' });
  }

  const form = await readForm(req);
  let step = action || form.get('prompt') || interaction.prompt.name;
  if (step === 'confirm') step = 'consent';

  if (step === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (step !== interaction.prompt.name) {
    // e.g. a stale login form posted after login already happened: show the current step.
    return renderInteraction(req, res, interaction);
  }
  if (step === 'login') {
    const login = form.get('login') ?? '';
    const accountId = authenticate(login, form.get('password'));
    if (!accountId) {
      return renderInteraction(req, res, interaction, {
        status: 401, login, error: 'Invalid username or password.',
      });
    }
    return provider.interactionFinished(req, res, {
      login: { accountId, amr: ['pwd'] },
    }, { mergeWithLastSubmission: false });
  }
  if (step === 'consent') {
    const result = await grantConsent(interaction);
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  return renderInteraction(req, res, interaction);
}

const providerCallback = provider.callback();
const cssBody = Buffer.from(CSS, 'utf8');

async function handler(req, res) {
  const url = new URL(req.url, ISSUER);
  try {
    if (url.pathname === '/assets/op.css') {
      res.writeHead(200, {
        'content-type': 'text/css; charset=utf-8',
        'content-length': cssBody.length,
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      });
      return res.end(req.method === 'HEAD' ? undefined : cssBody);
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'public, max-age=86400' });
      return res.end();
    }
    if (url.pathname === '/interaction' || url.pathname.startsWith('/interaction/')) {
      return await handleInteraction(req, res, url);
    }
    return providerCallback(req, res);
  } catch (err) {
    console.error(`OP error ${req.method} ${url.pathname}: ${err.stack || err}`);
    if (!res.headersSent) {
      send(res, err.status || 500, messagePage('Something went wrong', `<p>${esc(err.status ? err.message : 'Internal error')}</p>`, 'op-error'));
    } else {
      res.destroy();
    }
  }
}

// ---------------------------------------------------------------------------
// listen
// ---------------------------------------------------------------------------

const servers = [];
let listening = 0;
let failed = 0;

function onReady() {
  if (listening + failed < HOSTS.length) return;
  if (listening === 0) {
    console.error(`OP could not listen on port ${PORT}`);
    process.exit(1);
  }
  if (DEBUG) {
    console.log(`OP resource ${API_RESOURCE} scopes=${API_SCOPES} client_token_ttl=${CLIENT_TOKEN_TTL}`);
    console.log(`OP client ${CLIENT_ID} redirect_uris=${bffClient.redirect_uris.join(' ')} backchannel_logout_uri=${bffClient.backchannel_logout_uri}`);
    console.log(`OP outgoing TLS trust: ${outgoingTrust}`);
  }
  console.log(`OP ready on ${ISSUER}`);
}

for (const host of HOSTS) {
  // issue 12: with OP_MTLS the OP asks for (and does not itself reject) client
  // certificates: oidc-provider checks them against the client's registration.
  const server = https.createServer({
    cert: tlsCert, key: tlsKey, ...(MTLS ? { requestCert: true, rejectUnauthorized: false } : {}),
  }, handler);
  server.keepAliveTimeout = 5000;
  server.on('error', (err) => {
    // ::1 may be missing on hosts without IPv6: tolerate that one, not others.
    if (listening + failed < HOSTS.length && err.code === 'EADDRNOTAVAIL' && host.includes(':')) {
      failed += 1;
      onReady();
      return;
    }
    console.error(`OP listen error on ${host}:${PORT}: ${err.code || err.message}`);
    process.exit(1);
  });
  server.listen(PORT, host, () => {
    listening += 1;
    onReady();
  });
  servers.push(server);
}

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`OP shutting down (${signal})`);
  let open = servers.filter((s) => s.listening).length;
  if (open === 0) process.exit(0);
  for (const server of servers) {
    if (!server.listening) continue;
    server.close(() => {
      open -= 1;
      if (open === 0) process.exit(0);
    });
    server.closeAllConnections();
  }
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
