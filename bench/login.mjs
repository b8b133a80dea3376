// Headless sign-in through oidc-bff against the demo OP, no browser: follows the
// redirects by hand with one cookie jar per origin, like a browser would.
//
//   node bench/login.mjs --bff http://localhost:28080 --op https://localhost:28443 [--n 1] [--warmup 0] [--json]
//   node bench/login.mjs --apache --bff http://localhost:28084 --op https://localhost:28443
//
// Prints the session cookie header (`bff-session=…` or `bff-session.0=…; bff-session.1=…`)
// of the last login. With --n N it signs in N times in a row and, with --json, prints
// {cookie, logins: [{bffLoginMs, callbackMs, bffMs, opMs, totalMs}]}:
//   bffLoginMs  wall time of GET /bff/login as seen here (the BFF only; no OP call)
//   callbackMs  wall time of GET /callback as seen here (includes the BFF's code exchange
//               at the OP's token endpoint and, on the first login, the JWKS fetch)
//   bffMs       bffLoginMs + callbackMs
//   opMs        the OP's part of the whole login (its /auth, login and consent pages)
// The OP's share of /callback (its token endpoint) is best read from oidc-bff's own
// /metrics (bff_op_request_duration_seconds{endpoint="token"}): bench/run does that.
//
// With --apache, `--bff` is Apache httpd with mod_auth_openidc (bench/run's peer, issue 14):
// the login starts at its protected `/login` as a browser navigation (`Accept: text/html`,
// so mod_auth_openidc redirects to the OP instead of answering 401), the OP sends the
// browser back to its `/api/redirect_uri`, and the printed cookie header is its session
// (`mod_auth_openidc_session=…`, or its chunks and `mod_auth_openidc_session_chunks`).
//
// TLS to the OP trusts demo/certs/ca.pem. The BFF is plain http on localhost.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}

const BFF = String(arg('bff', 'http://localhost:28080')).replace(/\/+$/, '');
const OP = String(arg('op', 'https://localhost:28443')).replace(/\/+$/, '');
const N = Number(arg('n', 1));
const WARMUP = Number(arg('warmup', 0));
const JSON_OUT = arg('json', false) === true;
const USER = String(arg('user', 'demo'));
const PASSWORD = String(arg('password', 'demo-password'));
const APACHE = arg('apache', false) === true;
const CA = fs.readFileSync(String(arg('ca', path.join(ROOT, 'demo', 'certs', 'ca.pem'))));

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: CA });

/** One request, no redirect following: {status, headers, body}. */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const agent = u.protocol === 'https:' ? httpsAgent : httpAgent;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, agent, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Cookies per origin: name → value (paths ignored: each name is unique enough here). */
class Jar {
  constructor() {
    this.byOrigin = new Map();
  }
  of(origin) {
    if (!this.byOrigin.has(origin)) this.byOrigin.set(origin, new Map());
    return this.byOrigin.get(origin);
  }
  store(url, res) {
    const jar = this.of(new URL(url).origin);
    for (const line of res.headers['set-cookie'] || []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a)) ||
        attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (gone || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
  header(url) {
    const jar = this.of(new URL(url).origin);
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function call(jar, url, opts = {}) {
  const cookie = jar.header(url);
  const headers = { ...(opts.headers || {}) };
  if (cookie) headers.cookie = cookie;
  const res = await request(url, { ...opts, headers });
  jar.store(url, res);
  return res;
}

function expectRedirect(res, what) {
  if (res.status < 300 || res.status > 399 || !res.headers.location) {
    throw new Error(`${what}: expected a redirect, got HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  }
}

const form = (o) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(o).toString(),
});

/** Drives the OP from `url` (its /auth) until it redirects back to `backTo`. */
async function throughOp(jar, url, backTo) {
  let loggedIn = false;
  for (let hops = 0; hops < 20; hops++) {
    const u = new URL(url);
    if (url.startsWith(backTo)) return url;
    let res;
    const m = u.origin === OP && u.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)$/);
    if (m && !loggedIn) {
      res = await call(jar, url, form({ prompt: 'login', login: USER, password: PASSWORD }));
      loggedIn = true;
    } else if (m) {
      res = await call(jar, url, form({ prompt: 'consent' }));
    } else {
      res = await call(jar, url);
    }
    expectRedirect(res, `OP ${u.pathname}`);
    url = new URL(res.headers.location, url).href;
  }
  throw new Error('too many redirects at the OP');
}

async function loginOnce() {
  const jar = new Jar();
  const t0 = process.hrtime.bigint();
  const start = APACHE
    ? await call(jar, `${BFF}/login`, { headers: { accept: 'text/html' } })
    : await call(jar, `${BFF}/bff/login?returnUrl=/`);
  const bffLoginMs = ms(t0);
  expectRedirect(start, APACHE ? 'GET /login (mod_auth_openidc)' : 'GET /bff/login');
  const t1 = process.hrtime.bigint();
  const callback = await throughOp(jar, start.headers.location, `${BFF}/`);
  const opMs = ms(t1);
  const t2 = process.hrtime.bigint();
  const done = await call(jar, callback);
  const callbackMs = ms(t2);
  expectRedirect(done, APACHE ? 'GET /api/redirect_uri (mod_auth_openidc)' : 'GET /callback');
  const loc = done.headers.location;
  if (loc.includes('login_error')) throw new Error(`the BFF refused the login: ${loc}`);
  const name = APACHE ? /^mod_auth_openidc_session(_chunks|_\d+)?$/ : /^(__Host-)?bff-session(\.\d+)?$/;
  const session = [...jar.of(new URL(BFF).origin)].filter(([k]) => name.test(k));
  if (!session.length) throw new Error('no session cookie after /callback');
  const cookie = session.map(([k, v]) => `${k}=${v}`).join('; ');
  return { cookie, timing: { bffLoginMs, callbackMs, bffMs: bffLoginMs + callbackMs, opMs, totalMs: ms(t0) } };
}

async function main() {
  const logins = [];
  let last;
  // Warm-up logins (not reported) open the BFF's pooled connection to the OP and fill
  // its JWKS cache, as on a server that has been up for a while.
  for (let i = 0; i < WARMUP + N; i++) {
    last = await loginOnce();
    if (i >= WARMUP) logins.push(last.timing);
  }
  if (JSON_OUT) process.stdout.write(`${JSON.stringify({ cookie: last?.cookie, logins })}\n`);
  else process.stdout.write(`${last.cookie}\n`);
  httpAgent.destroy();
  httpsAgent.destroy();
}

main().catch((err) => {
  process.stderr.write(`login.mjs: ${err.stack || err}\n`);
  process.exit(1);
});
