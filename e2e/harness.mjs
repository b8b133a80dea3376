// The end-to-end stack: the demo OP, the demo API and oidc-bff on non-default ports
// (so a running `scripts/demo` does not get in the way), plus Chromium driven by
// playwright-core. Used by the *.test.mjs files next to it; not a test itself.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOG_DIR = path.join(ROOT, 'target', 'e2e-logs');
export const BIN_DIR = path.resolve(process.env.BIN_DIR || path.join(ROOT, 'target', 'debug'));
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// E2E_PORT_OFFSET moves all three ports, so two checkouts can run the suite side by side.
const OFFSET = Number(process.env.E2E_PORT_OFFSET || 0);
export const PORTS = Object.freeze({ op: 18443 + OFFSET, api: 13000 + OFFSET, bff: 15443 + OFFSET });
export const OP = `https://localhost:${PORTS.op}`;
export const API = `https://localhost:${PORTS.api}`;
export const BFF = `https://localhost:${PORTS.bff}`;

const CA_FILE = path.join(ROOT, 'demo', 'certs', 'ca.pem');
const LEAF_FILE = path.join(ROOT, 'demo', 'certs', 'localhost.pem');
const START_TIMEOUT_MS = 30_000;
// Everything at debug (the "no token in any log line" check needs it) but HTTP/2 frame dumps.
const RUST_LOG = 'debug,h2=info';
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

// ---------------------------------------------------------------------------
// Processes

/** Every child still running, killed hard if this process exits without `stop()`. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(130));
}

function ensureCerts() {
  if (fs.existsSync(CA_FILE) && fs.existsSync(LEAF_FILE)) return;
  const r = spawnSync('bash', [path.join(ROOT, 'demo', 'certs.sh')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bash demo/certs.sh failed:\n${r.stdout}${r.stderr}`);
}

function ensureFile(file, hint) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${hint}`);
}

/** Rejects with a clear message when `port` on 127.0.0.1 is taken. */
function checkPortFree(port, what) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `e2e: port ${port} (${what}) is busy. Is another e2e run still going? Find it with: ss -ltnp 'sport = :${port}'`
            : `e2e: cannot check port ${port} (${what}): ${err.message}`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

class Proc {
  constructor(name, logFile, cmd, args, env) {
    this.name = name;
    this.logFile = logFile;
    fs.writeFileSync(logFile, `$ ${cmd} ${args.join(' ')}\n`);
    const out = fs.openSync(logFile, 'a');
    this.child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        this.exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve(this.exitInfo);
      });
      this.child.once('error', (err) => {
        running.delete(this.child);
        this.exitInfo = `spawn error: ${err.message}`;
        resolve(this.exitInfo);
      });
    });
  }

  log() {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop() {
    if (this.exitInfo !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.exitInfo === undefined) this.child.kill('SIGKILL');
    }, 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** One HTTPS GET trusting the demo CA: `{status, body}`, or throws on a network error. */
export function httpsGet(url, { headers = {} } = {}) {
  const ca = fs.readFileSync(CA_FILE);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls `probe` until it answers true; fails early when `proc` exits. */
async function waitUntil(what, proc, probe) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exitInfo !== undefined) {
      throw new Error(`e2e: ${proc.name} exited (${proc.exitInfo}) before ${what} was ready. Its log:\n${tail(proc.log())}`);
    }
    try {
      const r = await probe();
      if (r === true) return;
      last = String(r);
    } catch (err) {
      last = err.message;
    }
    await sleep(150);
  }
  throw new Error(`e2e: ${what} not ready after ${START_TIMEOUT_MS / 1000} s (last: ${last}). ${proc.name} log:\n${tail(proc.log())}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(text, lines = 80) {
  const all = text.split('\n');
  return all.slice(-lines).join('\n');
}

/**
 * Starts OP, demo API and BFF. `name` prefixes the log files in target/e2e-logs/.
 * `accessTokenTtl` is the OP's access token lifetime in seconds.
 */
export async function startStack({ name, accessTokenTtl = 300, opEnv = {}, bffEnv = {} } = {}) {
  if (!name) throw new Error('startStack needs a name');
  ensureCerts();
  ensureFile(path.join(BIN_DIR, 'oidc-bff'), 'build it with `cargo build --bins` or set BIN_DIR');
  ensureFile(path.join(BIN_DIR, 'demo-api'), 'build it with `cargo build --bins` or set BIN_DIR');
  ensureFile(path.join(ROOT, 'demo', 'op', 'node_modules', 'oidc-provider', 'package.json'), 'run `(cd demo/op && npm ci)`');
  fs.mkdirSync(LOG_DIR, { recursive: true });
  await checkPortFree(PORTS.op, 'the OP');
  await checkPortFree(PORTS.api, 'the demo API');
  await checkPortFree(PORTS.bff, 'oidc-bff');

  const base = { ...process.env };
  delete base.RUST_LOG;
  for (const k of Object.keys(base)) if (k.startsWith('BFF_') || k.startsWith('OP_') || k.startsWith('DEMO_API_')) delete base[k];

  const procs = [];
  const cookieKey = crypto.randomBytes(32).toString('base64');
  const stack = {
    procs,
    secrets: { 'client secret': 'demo-client-secret-not-for-production', 'cookie key': cookieKey },
    logFile: (p) => path.join(LOG_DIR, `${name}-${p}.log`),
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
    },
    /** Everything each process printed, for a failing test. */
    dumpLogs(out = process.stderr) {
      for (const p of procs) {
        out.write(`\n----- ${p.name} (${path.relative(ROOT, p.logFile)}) -----\n${tail(p.log(), 150)}\n`);
      }
    },
    proc: (n) => procs.find((p) => p.name === n),
  };

  try {
    const op = new Proc('op', stack.logFile('op'), process.execPath, ['demo/op/server.mjs'], {
      ...base,
      OP_PORT: String(PORTS.op),
      OP_HOST: '127.0.0.1',
      BFF_ORIGIN: BFF,
      OP_ACCESS_TOKEN_TTL: String(accessTokenTtl),
      OP_DEBUG: '1',
      ...opEnv,
    });
    procs.push(op);
    await waitUntil('the OP', op, async () => {
      const r = await httpsGet(`${OP}/.well-known/openid-configuration`);
      return r.status === 200 || `HTTP ${r.status}`;
    });

    const api = new Proc('demo-api', stack.logFile('demo-api'), path.join(BIN_DIR, 'demo-api'), [], {
      ...base,
      DEMO_API_LISTEN: `127.0.0.1:${PORTS.api}`,
      DEMO_API_ISSUER: OP,
      DEMO_API_CA_FILE: CA_FILE,
      RUST_LOG: RUST_LOG,
      NO_COLOR: '1',
    });
    procs.push(api);

    const bff = new Proc('bff', stack.logFile('bff'), path.join(BIN_DIR, 'oidc-bff'), ['--config', 'settings.json'], {
      ...base,
      BFF_ISSUER: OP,
      BFF_BASE_URL: BFF,
      BFF_REDIRECT_URI: `${BFF}/callback`,
      BFF_POST_LOGOUT_REDIRECT_URI: `${BFF}/`,
      BFF_LISTEN: `127.0.0.1:${PORTS.bff}`,
      BFF_API_ENDPOINT: API,
      BFF_ROUTES: demoRoutes(API),
      BFF_COOKIE_KEYS: cookieKey,
      RUST_LOG: RUST_LOG,
      NO_COLOR: '1',
      ...bffEnv,
    });
    procs.push(bff);

    await Promise.all([
      waitUntil('the demo API', api, async () => {
        const r = await httpsGet(`${API}/data`); // 401 without a token: it answers
        return r.status === 401 || `HTTP ${r.status}`;
      }),
      waitUntil('oidc-bff', bff, async () => {
        const r = await httpsGet(`${BFF}/healthz`);
        return r.status === 200 || `HTTP ${r.status} ${r.body}`;
      }),
    ]);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/** settings.json's `routes`, with the demo API's address moved to `api` (one source). */
export function demoRoutes(api) {
  const settings = JSON.parse(fs.readFileSync(path.join(ROOT, 'settings.json'), 'utf8'));
  return JSON.stringify(settings.routes).replaceAll('https://localhost:3000', api);
}

// ---------------------------------------------------------------------------
// Browser

/** base64(sha256(SPKI)) of the demo localhost certificate, for Chromium's SPKI allow-list. */
function leafSpkiHash() {
  const cert = new crypto.X509Certificate(fs.readFileSync(LEAF_FILE));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

/**
 * The stack (`startStack(options)`) and the Chromium of one test file: started before its
 * first test, stopped after its last. Returns `{ stack, browser }`, filled in by then.
 */
export function stackForFile(options) {
  const fx = { stack: undefined, browser: undefined };
  before(async () => {
    fx.stack = await startStack(options);
    fx.browser = await launchBrowser();
  });
  after(async () => {
    await fx.browser?.close();
    await fx.stack?.stop();
  });
  return fx;
}

/**
 * Chromium with a fresh profile. It trusts exactly the demo localhost certificate
 * (by its public key) rather than ignoring every HTTPS error.
 */
export async function launchBrowser() {
  ensureFile(CHROMIUM, 'install it with `apt-get install -y chromium` or set CHROMIUM_PATH');
  ensureCerts();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: START_TIMEOUT_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${leafSpkiHash()}`,
    ],
  });
}

const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/;
const TOKEN_KEYS = new Set(['access_token', 'refresh_token', 'id_token']);

/** Paths (`a.b[2].c`) of keys in `value` that are named like a token. */
function tokenKeys(value, at = '$') {
  const found = [];
  if (Array.isArray(value)) value.forEach((v, i) => found.push(...tokenKeys(v, `${at}[${i}]`)));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (TOKEN_KEYS.has(k.toLowerCase())) found.push(`${at}.${k}`);
      found.push(...tokenKeys(v, `${at}.${k}`));
    }
  }
  return found;
}

/** Strings in `value` longer than `min` characters that look like a JWT. */
function jwtStrings(value, min = 0) {
  if (typeof value === 'string') return value.length > min && JWT.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => jwtStrings(v, min));
  if (value && typeof value === 'object') return Object.values(value).flatMap((v) => jwtStrings(v, min));
  return [];
}

/**
 * A fresh browser context (own cookies) with one page, watched for: requests to
 * non-loopback hosts (blocked), CSP violations, uncaught page errors, and /bff/*
 * answers that carry a token. `check()` throws on any of them.
 */
export async function openSession(browser, { label }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const problems = { blocked: [], csp: [], pageErrors: [], tokenLeaks: [] };
  const consoleLines = [];
  const bodyChecks = [];
  const bffJson = []; // {path, status, body}

  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOCAL_HOSTS.has(url.hostname)) return route.continue();
    if (!problems.blocked.includes(url.href)) problems.blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  const requests = []; // {method, url, postData, navigation}
  context.on('request', (req) => {
    requests.push({ method: req.method(), url: req.url(), postData: req.postData(), navigation: req.isNavigationRequest() });
    // No URL the browser loads (and so none in the address bar or the history) holds a token.
    if (JWT.test(req.url())) problems.tokenLeaks.push(`${req.method()} ${req.url().slice(0, 80)}… has a JWT-like string in the URL`);
    const url = new URL(req.url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && !LOCAL_HOSTS.has(url.hostname)) {
      if (!problems.blocked.includes(url.href)) problems.blocked.push(url.href);
    }
  });
  context.on('console', (msg) => {
    const line = `[${msg.type()}] ${msg.page()?.url() ?? '?'}: ${msg.text()}`;
    consoleLines.push(line);
    if (msg.type() === 'error' && /Content Security Policy|Content-Security-Policy/i.test(msg.text())) {
      problems.csp.push(line);
    }
  });
  context.on('weberror', (err) => {
    problems.pageErrors.push(String(err.error()?.stack || err.error()));
  });
  context.on('response', (res) => {
    const url = new URL(res.url());
    // Headers the page could read must not carry a token (e.g. a JWT).
    for (const [k, v] of Object.entries(res.headers())) {
      if (k !== 'location' && JWT.test(v)) problems.tokenLeaks.push(`${res.url()} header ${k} looks like a JWT`);
    }
    if (url.origin !== BFF || !url.pathname.startsWith('/bff/')) return;
    const type = res.headers()['content-type'] || '';
    if (!type.includes('json')) return;
    bodyChecks.push(
      res.text().then(
        (text) => {
          let body;
          try {
            body = JSON.parse(text);
          } catch {
            problems.tokenLeaks.push(`${url.pathname}: answered content-type ${type} but not JSON`);
            return;
          }
          bffJson.push({ path: url.pathname, status: res.status(), body });
          for (const k of tokenKeys(body)) problems.tokenLeaks.push(`${url.pathname} JSON has key ${k}`);
          // 0.2: no exception for /bff/logout; its logoutUrl points at the BFF's logout page.
          for (const s of jwtStrings(body)) problems.tokenLeaks.push(`${url.pathname} JSON has a JWT-like string (${s.length} chars)`);
          if (url.pathname === '/bff/user') {
            for (const s of jwtStrings(body, 200)) problems.tokenLeaks.push(`/bff/user has a long JWT-like string (${s.length} chars)`);
          }
        },
        () => {
          /* the page navigated away before the body was read; nothing to check */
        },
      ),
    );
  });

  const page = await context.newPage();

  return {
    context,
    page,
    problems,
    bffJson,
    requests,
    consoleLines,
    /** Waits for the body checks, then throws if anything was seen that must not be. */
    async check() {
      await Promise.all(bodyChecks);
      const lines = [];
      if (problems.blocked.length) lines.push(`requests to non-loopback hosts: ${problems.blocked.join(', ')}`);
      if (problems.csp.length) lines.push(`CSP violations:\n  ${problems.csp.join('\n  ')}`);
      if (problems.pageErrors.length) lines.push(`uncaught page errors:\n  ${problems.pageErrors.join('\n  ')}`);
      if (problems.tokenLeaks.length) lines.push(`token leaks:\n  ${problems.tokenLeaks.join('\n  ')}`);
      if (lines.length) throw new Error(lines.join('\n'));
    },
    async screenshot() {
      const file = path.join(LOG_DIR, `${slug(label)}.png`);
      try {
        fs.mkdirSync(LOG_DIR, { recursive: true });
        await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        return file;
      } catch (err) {
        return `(no screenshot: ${err.message})`;
      }
    },
    async close() {
      await context.close().catch(() => {});
    },
  };
}

export function slug(s) {
  return String(s)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/**
 * Runs `fn(session)` in a fresh browser context; on failure saves a screenshot,
 * prints the page's console and every process log, and rethrows.
 */
export async function withSession(browser, stack, label, fn) {
  fs.rmSync(path.join(LOG_DIR, `${slug(label)}.png`), { force: true }); // no stale screenshot
  const s = await openSession(browser, { label });
  try {
    await fn(s);
    await s.check();
  } catch (err) {
    const shot = await s.screenshot();
    const where = s.page.url();
    process.stderr.write(`\n===== FAILED: ${label}\n  page: ${where}\n  screenshot: ${shot}\n`);
    process.stderr.write(`----- browser console -----\n${s.consoleLines.join('\n')}\n`);
    stack.dumpLogs();
    throw err;
  } finally {
    await s.close();
  }
}

/** Throws when the BFF's log holds a JWT (an ID token), the client secret or the cookie key. */
export function assertLogHasNoSecrets(stack, procName = 'bff') {
  const text = stack.proc(procName).log();
  const lineWith = (needle) => (text.split('\n').find((l) => l.includes(needle)) || '').slice(0, 300);
  const m = text.match(JWT);
  if (m) throw new Error(`${procName} log contains a JWT-like string: ${lineWith(m[0])}`);
  for (const [what, secret] of Object.entries(stack.secrets)) {
    if (text.includes(secret)) throw new Error(`${procName} log contains the ${what}: ${lineWith(secret)}`);
  }
}
