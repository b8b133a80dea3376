// The load benchmark behind `bench/run` (which installs, builds and then calls this).
// Starts the demo OP, an nginx upstream with a 234-byte and a 64 KB JSON answer,
// oidc-bff (release), nginx as a plain reverse proxy and Apache httpd with
// mod_auth_openidc (the authenticating peer) in front of the same upstream, oidc-bff with
// a Redis session store (a private redis-server), signs in headlessly, and runs wrk
// against them. Prints Markdown and writes it to bench/results/latest.md. See
// bench/README.md for what each number means.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import net from 'node:net';

import { CA_FILE, ROOT, children, demoBffSettings, get, killAll, launcher, login as sharedLogin, pinned, sleep, statusKb, waitFor } from './lib.mjs';

const env = process.env;
const RUN = path.resolve(env.BENCH_RUN_DIR || path.join(ROOT, 'target', 'bench'));
const BFF_BIN = env.BENCH_BFF_BIN || path.join(RUN, 'oidc-bff');
const MINT_BIN = env.BENCH_MINT_BIN || path.join(RUN, 'mint_session');
const NGINX = env.BENCH_NGINX || '/usr/sbin/nginx';
// issue 14: the peer a sidecar user would pick (Debian's apache2 and
// libapache2-mod-auth-openidc), and Redis for oidc-bff's `session_store: redis://…`.
const APACHE = env.BENCH_APACHE || '/usr/sbin/apache2';
const APACHE_MODULES = env.BENCH_APACHE_MODULES || '/usr/lib/apache2/modules';
const APACHE_THREADS = Number(env.BENCH_APACHE_THREADS || 128);
const REDIS = env.BENCH_REDIS || 'redis-server';
const WRK = env.BENCH_WRK || 'wrk';
const DURATION = Number(env.BENCH_DURATION || 10);
const WARMUP = Number(env.BENCH_WARMUP || 3);
const LOGINS = Number(env.BENCH_LOGINS || 20);
const QUICK = env.BENCH_QUICK === '1'; // main table only (no scaling section)
const PORT_BASE = Number(env.BENCH_PORT_BASE || 28000);
const PORTS = {
  op: PORT_BASE + 443,
  bff: PORT_BASE + 80,
  upstream: PORT_BASE + 81,
  nginx: PORT_BASE + 82,
  baseline: PORT_BASE + 83,
  apache: PORT_BASE + 84,
  bffRedis: PORT_BASE + 85,
  redis: PORT_BASE + 86,
};
// issue 14: another oidc-bff binary (e.g. the commit before a change) measured in the same
// run, point for point next to this one: "before/after in the same run".
const BASELINE_BIN = env.BENCH_BASELINE_BIN || '';
const BASELINE_LABEL = env.BENCH_BASELINE_LABEL || 'baseline';
const OP = `https://localhost:${PORTS.op}`;
const BFF = `http://localhost:${PORTS.bff}`;
const APACHE_URL = `http://localhost:${PORTS.apache}`;
const BFF_REDIS = `http://localhost:${PORTS.bffRedis}`;
const APACHE_CLIENT = { id: 'bench-apache', secret: 'bench-apache-secret-not-for-production' }; // demo/op's client 3
const CLK_TCK = Number(env.BENCH_CLK_TCK || 100);
const RESULTS = path.join(ROOT, 'bench', 'results');
const SMALL = 234;
const LARGE = 64 * 1024;

// ---------------------------------------------------------------------------
// CPUs: servers on one core, wrk (and the login client) on another, when there are two.

const NCPU = os.cpus().length;
const PINNED = NCPU >= 2 && env.BENCH_NO_PIN !== '1';
const SERVER_CPU = PINNED ? String(env.BENCH_SERVER_CPU || 0) : null;
const LOAD_CPU = PINNED ? String(env.BENCH_LOAD_CPU || 1) : null;

// ---------------------------------------------------------------------------
// Processes, all stopped on exit (bench/lib.mjs); their pids in RUN/pids for bench/run.
const start = launcher(RUN, { pidFile: path.join(RUN, 'pids') });

async function stop(child) {
  if (child.exitInfo !== undefined) return;
  child.kill('SIGTERM');
  for (let i = 0; i < 50 && child.exitInfo === undefined; i++) await sleep(100);
  if (child.exitInfo === undefined) child.kill('SIGKILL');
}

/** A server that `point()` restarts before each measurement. */
function restartable(name, port, launch, pidsOf, readyUrl) {
  let child = null;
  const srv = {
    name,
    port,
    pids: () => (child ? pidsOf(child) : []),
    async stop() {
      if (child) await stop(child);
      child = null;
    },
    async restart() {
      await srv.stop();
      child = launch();
      await waitFor(name, child, async () => (await get(readyUrl, { 'x-csrf': '1' })).status < 500);
    },
  };
  return srv;
}

/** oidc-bff's own timings from /metrics (Prometheus text); null when it has none. */
async function bffMetrics() {
  try {
    const r = await get(`${BFF}/metrics`);
    if (r.status !== 200) return null;
    const text = r.body.toString('utf8');
    const val = (re) => {
      const m = text.match(re);
      return m ? Number(m[1]) : undefined;
    };
    return {
      login_sum: val(/^bff_http_request_duration_seconds_sum\{area="bff"\} (\S+)$/m),
      login_count: val(/^bff_http_request_duration_seconds_count\{area="bff"\} (\S+)$/m),
      callback_sum: val(/^bff_http_request_duration_seconds_sum\{area="other"\} (\S+)$/m),
      callback_count: val(/^bff_http_request_duration_seconds_count\{area="other"\} (\S+)$/m),
      token_sum: val(/^bff_op_request_duration_seconds_sum\{endpoint="token"\} (\S+)$/m),
      token_count: val(/^bff_op_request_duration_seconds_count\{endpoint="token"\} (\S+)$/m),
    };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// /proc: CPU ticks and peak RSS.

function procTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  } catch {
    return 0;
  }
}
const ticksOf = (pids) => pids.reduce((s, p) => s + procTicks(p), 0);

function cpuBusy(cpu) {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(cpu === null ? 'cpu ' : `cpu${cpu} `));
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; // user nice system irq softirq steal
}

/** Resets the peak RSS (VmHWM) counters (Linux ≥ 4.0, `clear_refs` value 5). */
function resetPeak(pids) {
  for (const p of pids) {
    try {
      fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      /* then the peak since start */
    }
  }
}
const peakKb = (pids) => pids.reduce((s, p) => s + statusKb(p, 'VmHWM'), 0);
const rssKb = (pids) => pids.reduce((s, p) => s + statusKb(p, 'VmRSS'), 0);

function nginxPids(master) {
  const kids = spawnSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  return [master, ...kids];
}

// ---------------------------------------------------------------------------
// wrk

const LUA = path.join(ROOT, 'bench', 'wrk-report.lua');

function wrk({ port, urlPath, cookie, conns, seconds, host }) {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s', '-s', LUA, '-H', 'X-CSRF: 1'];
  if (host) args.push('-H', `Host: ${host}`);
  if (cookie) args.push('-H', `Cookie: ${cookie}`);
  args.push(`http://127.0.0.1:${port}${urlPath}`);
  const [c, a] = pinned(LOAD_CPU, WRK, args);
  return new Promise((resolve, reject) => {
    // Through bash, whose `times` reports wrk's CPU time (to tell noise from wrk's load).
    const child = spawn('bash', ['-c', '"$@"; rc=$?; times; exit $rc', 'wrk', c, ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      children.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (exit ${code}):\n${out}`));
      const r = Object.fromEntries(line.slice(7).trim().split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
      // `times`: the shell's user/sys, then its children's (wrk): "0m1.234s 0m0.567s".
      const t = out.trim().split('\n').pop().match(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/);
      r.cpu_s = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : NaN;
      resolve(r);
    });
  });
}

// ---------------------------------------------------------------------------
// Setup

const www = path.join(RUN, 'www');

function writeAnswers() {
  fs.mkdirSync(www, { recursive: true });
  // 234 bytes: a small API answer.
  const small = { id: 42, name: 'widget', price: 19.99, currency: 'EUR', tags: ['a', 'b'], inStock: true, pad: '' };
  small.pad = 'x'.repeat(SMALL - JSON.stringify(small).length);
  // 64 KB: a page of list items.
  const items = [];
  let text = '';
  for (let i = 0; ; i++) {
    items.push({ id: i, name: `item-${String(i).padStart(5, '0')}`, price: ((i * 37) % 1000) / 10, tags: [`t${i % 7}`] });
    const t = JSON.stringify({ items, pad: '' });
    if (t.length > LARGE) {
      items.pop();
      break;
    }
    text = t;
  }
  const large = { items, pad: '' };
  large.pad = 'x'.repeat(LARGE - JSON.stringify(large).length);
  const s = JSON.stringify(small);
  const l = JSON.stringify(large);
  if (s.length !== SMALL || l.length !== LARGE) throw new Error(`answer sizes ${s.length}/${l.length}`);
  fs.writeFileSync(path.join(www, 'small.json'), s);
  fs.writeFileSync(path.join(www, 'large.json'), l);
}

function nginxConf(name, server, keepaliveRequests = 1000000) {
  const dir = path.join(RUN, name);
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/tmp/${t};`).join(' ');
  const conf = `# generated by bench/run.mjs
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests ${keepaliveRequests};
  ${temps}
${server}
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return [dir, path.join(dir, 'nginx.conf')];
}

/**
 * Apache httpd 2.4 with mod_auth_openidc (issue 14: the peer a sidecar user would pick),
 * configured like the nginx row where it can be and like oidc-bff where it must be: an
 * authenticating reverse proxy for /api/ to the same upstream, client-cookie sessions,
 * requests without `X-CSRF` refused, pooled keep-alive to the upstream, mpm_event with one
 * child process. Everything in target/bench/apache/, no system configuration read.
 */
function apacheConf() {
  const dir = path.join(RUN, 'apache');
  for (const d of ['run', 'htdocs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const mod = (name, file) => `LoadModule ${name}_module ${APACHE_MODULES}/mod_${file || name}.so`;
  // As root, the child drops to www-data (Debian's own choice); else it stays who it is.
  const root = process.getuid && process.getuid() === 0;
  const conf = `# generated by bench/run.mjs (issue 14): Apache httpd + mod_auth_openidc as bench/run's peer
ServerRoot ${dir}
ServerName localhost
Listen 127.0.0.1:${PORTS.apache}
PidFile ${dir}/apache.pid
ErrorLog ${dir}/error.log
LogLevel warn
DefaultRuntimeDir ${dir}/run
Mutex default:${dir}/run
${root ? 'User www-data\nGroup www-data' : '# not root: no User/Group'}
DocumentRoot ${dir}/htdocs

${mod('mpm_event')}
${mod('authn_core')}
${mod('authz_core')}
${mod('authz_user')}
${mod('headers')}
${mod('proxy')}
${mod('proxy_http')}
${mod('auth_openidc')}

# One child process (oidc-bff runs 1 worker, nginx 1 worker process), enough threads for
# every connection to have a request in flight; the listener thread is mpm_event's own.
StartServers 1
ServerLimit 1
ThreadLimit ${APACHE_THREADS}
ThreadsPerChild ${APACHE_THREADS}
MaxRequestWorkers ${APACHE_THREADS}
MinSpareThreads 1
MaxSpareThreads ${APACHE_THREADS}
MaxConnectionsPerChild 0
# Towards wrk: keep-alive, 1000 requests per connection as nginx's default (Apache's is 100).
KeepAlive On
MaxKeepAliveRequests 1000
KeepAliveTimeout 5
# The 64 connections' Cookie header with mod_auth_openidc's chunked session (nginx: 16k too).
LimitRequestFieldSize 16384
# No access log (nginx: access_log off; oidc-bff: access_log false).

OIDCProviderMetadataURL ${OP}/.well-known/openid-configuration
OIDCSSLValidateServer On
OIDCCABundlePath ${CA_FILE}
OIDCClientID ${APACHE_CLIENT.id}
OIDCClientSecret ${APACHE_CLIENT.secret}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI ${APACHE_URL}/api/redirect_uri
OIDCCryptoPassphrase ${crypto.randomBytes(32).toString('hex')}
OIDCScope "openid profile email address phone offline_access"
OIDCPKCEMethod S256
# The session in encrypted cookies (chunked at 4000 bytes), no server-side cache.
OIDCSessionType client-cookie
# Re-saved (a new Set-Cookie) at most once per 10 % of this, capped at 60 s: like
# oidc-bff's one-minute sliding window; every point starts from a fresh login.
OIDCSessionInactivityTimeout 600

# The same upstream as the nginx row. A named ProxyPass worker keeps a pool of HTTP/1.1
# keep-alive connections per child (reuse on; pool size = threads).
ProxyPass /api/ http://127.0.0.1:${PORTS.upstream}/ enablereuse=on keepalive=On

<Location /api/>
  AuthType openid-connect
  Require valid-user
  # oidc-bff's CSRF rule: an API request without X-CSRF is refused (403), before any
  # session or login work. The redirect URI is the browser's navigation back from the OP.
  <If "-z req('X-CSRF') && %{REQUEST_URI} != '/api/redirect_uri'">
    Require all denied
  </If>
  # The browser's cookies are not forwarded (nginx: proxy_set_header Cookie ""; oidc-bff
  # neither). mod_auth_openidc's own headers (OIDC_access_token, OIDC_CLAIM_*) are.
  RequestHeader unset Cookie
</Location>

# Where a login starts (a browser navigation; bench/login.mjs --apache): never reached
# with a session, so it needs no content.
<Location /login>
  AuthType openid-connect
  Require valid-user
</Location>
`;
  const file = path.join(dir, 'apache2.conf');
  fs.writeFileSync(file, conf);
  return file;
}

/** True when a Redis server answers PING on `port`. */
function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(2000, () => sock.destroy());
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) {
        sock.end();
        resolve(got.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('close', () => resolve(got.startsWith('+PONG')));
  });
}

function bffSettings(cookieKey, port = PORTS.bff, file = path.join(RUN, 'settings.json'), more = {}) {
  fs.writeFileSync(
    file,
    `${JSON.stringify(
      demoBffSettings(
        { op: OP, bff: `http://localhost:${port}`, port, upstream: `http://127.0.0.1:${PORTS.upstream}` },
        {
          scope: 'openid profile email address phone offline_access',
          cookie_keys: [cookieKey],
          ...(PINNED ? { workers: 1 } : {}),
          ...more,
        },
      ),
      null,
      2,
    )}\n`,
  );
  return file;
}

// ---------------------------------------------------------------------------
// Sessions

const login = (extra = []) => sharedLogin(LOAD_CPU, BFF, OP, extra);

function mint(cookieKey, cookie, opts) {
  const args = ['--key', cookieKey, '--cookie', cookie];
  if (opts.target) args.push('--target', String(opts.target));
  if (opts.age) args.push('--age', String(opts.age));
  const r = spawnSync(MINT_BIN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mint_session failed:\n${r.stderr}`);
  return r.stdout.trim();
}

const cookieBytes = (c) => c.length;
const cookieChunks = (c) => c.split(';').filter((p) => /^\s*bff-session(\.\d+)?=/.test(p)).length;

// ---------------------------------------------------------------------------
// Noise: this machine may be compiling something else. Wait for quiet before a point,
// and measure a point again when something else took the server core during it.

const QUIET_PCT = Number(env.BENCH_QUIET_PCT || 15);
const QUIET_WAIT = Number(env.BENCH_QUIET_WAIT || 90);

/** Waits (up to BENCH_QUIET_WAIT s) until the whole machine is under QUIET_PCT % busy. */
async function waitQuiet() {
  const deadline = Date.now() + QUIET_WAIT * 1000;
  let said = false;
  for (;;) {
    const a = cpuBusy(null);
    await sleep(1000);
    const pct = ((cpuBusy(null) - a) / CLK_TCK) * 100;
    if (pct < QUIET_PCT) return true;
    if (Date.now() > deadline) {
      process.stderr.write(`  (still ${pct.toFixed(0)}% busy with other work after ${QUIET_WAIT} s: measuring anyway)\n`);
      return false;
    }
    if (!said) process.stderr.write(`  (machine busy with other work: ${pct.toFixed(0)}% of a core; waiting for quiet)\n`);
    said = true;
  }
}

async function point(opts) {
  let r;
  for (let attempt = 1; attempt <= 3; attempt++) {
    await opts.server.restart();
    await waitQuiet();
    r = await pointOnce(opts);
    r.attempts = attempt;
    if (!(r.otherAllPct > QUIET_PCT)) return r;
    process.stderr.write(`  (other work took ${r.otherAllPct.toFixed(0)}% of a CPU during that point: measuring again)\n`);
  }
  r.noisy = true;
  return r;
}

// ---------------------------------------------------------------------------
// One measured point

async function pointOnce({ label, server, urlPath, cookie: cookieOf, conns, expectBytes }) {
  // A fresh session cookie for every attempt: the BFF re-seals sessions last seen over a
  // minute ago, which wrk would never pick up.
  const cookie = typeof cookieOf === 'function' ? cookieOf() : cookieOf;
  const port = server.port;
  // The answer must be the upstream's, whole.
  // mod_auth_openidc refuses a session cookie sent to another host than it was issued
  // for (localhost): its requests carry the browser's Host header.
  const host = server.host;
  const check = await get(`http://127.0.0.1:${port}${urlPath}`, { 'x-csrf': '1', cookie, ...(host ? { host } : {}) });
  if (check.status !== 200 || check.body.length !== expectBytes) {
    throw new Error(`${label}: ${server.name} answered HTTP ${check.status} with ${check.body.length} bytes (want 200, ${expectBytes}): ${check.body.slice(0, 200)}`);
  }
  const pids = server.pids();
  resetPeak(pids);
  if (WARMUP > 0) await wrk({ port, urlPath, cookie, conns, seconds: WARMUP, host });
  const up = upstream.pids();
  // A proxy's own helpers on the server core (oidc-bff's Redis): their CPU is reported
  // apart, never taken for other work by the noise guard.
  const side = server.sidePids ? server.sidePids() : [];
  const t0 = { own: ticksOf(pids), up: ticksOf(up), side: ticksOf(side), core: cpuBusy(SERVER_CPU), all: cpuBusy(null), at: process.hrtime.bigint() };
  const r = await wrk({ port, urlPath, cookie, conns, seconds: DURATION, host });
  const secs = Number(process.hrtime.bigint() - t0.at) / 1e9;
  const own = ticksOf(pids) - t0.own;
  const upT = ticksOf(up) - t0.up;
  const sideT = ticksOf(side) - t0.side;
  const core = cpuBusy(SERVER_CPU) - t0.core;
  const all = cpuBusy(null) - t0.all;
  const reqs = r.requests;
  const wsecs = r.duration_us / 1e6;
  const res = {
    label,
    server: server.name,
    conns,
    rps: reqs / wsecs,
    p50: r.p50_us / 1000,
    p99: r.p99_us / 1000,
    max: r.max_us / 1000,
    peakMb: peakKb(pids) / 1024,
    cpuUsPerReq: ((own / CLK_TCK) * 1e6) / reqs,
    cpuPct: (own / CLK_TCK / secs) * 100,
    upstreamPct: (upT / CLK_TCK / secs) * 100,
    sidePct: side.length ? (sideT / CLK_TCK / secs) * 100 : NaN,
    sideUsPerReq: side.length ? ((sideT / CLK_TCK) * 1e6) / reqs : NaN,
    corePct: (core / CLK_TCK / secs) * 100,
    // CPU time on the server core not used by the proxy or the upstream, and on the whole
    // machine not used by them or wrk (2 vCPUs are often one physical core's two threads:
    // a compile on the "other" CPU slows this one down too).
    otherPct: PINNED ? Math.max(0, ((core - own - upT - sideT) / CLK_TCK / secs) * 100) : NaN,
    otherAllPct: Math.max(0, ((all - own - upT - sideT) / CLK_TCK / secs) * 100 - (r.cpu_s / secs) * 100),
    wrkPct: (r.cpu_s / secs) * 100,
    errors: r.connect + r.read + r.write + r.timeout,
    non2xx: r.status,
    cookieBytes: cookieBytes(cookie || ''),
    cookieChunks: cookieChunks(cookie || ''),
    apacheCookies: (cookie || '').split(';').filter((p) => /^\s*mod_auth_openidc_session/.test(p)).length,
  };
  process.stderr.write(
    `  ${label.padEnd(34)} ${server.name.padEnd(9)} c=${String(conns).padEnd(4)} ${res.rps.toFixed(0).padStart(7)} req/s  p50 ${res.p50.toFixed(2)} ms  p99 ${res.p99.toFixed(2)} ms  ` +
      `RSS ${res.peakMb.toFixed(1)} MB  ${res.cpuUsPerReq.toFixed(1)} µs CPU/req  core ${res.corePct.toFixed(0)}%` +
      `${res.errors || res.non2xx ? `  ERRORS ${res.errors} non-2xx ${res.non2xx}` : ''}\n`,
  );
  return res;
}

// ---------------------------------------------------------------------------
// Main

let upstream;

async function main() {
  fs.mkdirSync(RUN, { recursive: true });
  for (const [what, port] of Object.entries(PORTS)) {
    const r = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: 'ignore' });
    if (r.status === 0) throw new Error(`port ${port} (${what}) is in use: is another bench/run going? (BENCH_PORT_BASE moves all ports)`);
  }
  writeAnswers();
  const cookieKey = crypto.randomBytes(32).toString('base64');
  const started = new Date();

  // The OP (https, the demo CA), on the server core.
  const op = start('op', SERVER_CPU, process.execPath, [path.join(ROOT, 'demo', 'op', 'server.mjs')], {
    OP_PORT: String(PORTS.op),
    OP_HOST: '127.0.0.1',
    BFF_ORIGIN: BFF,
    OP_ACCESS_TOKEN_TTL: '3600',
    // oidc-bff in Redis mode runs on its own port; Apache is the OP's client 3.
    OP_EXTRA_REDIRECT_URIS: `${BFF_REDIS}/callback`,
    OP_BENCH_APACHE_REDIRECT_URI: `${APACHE_URL}/api/redirect_uri`,
  });
  // The upstream: static JSON, on the server core too (it serves both proxies alike).
  const [upDir, upConf] = nginxConf(
    'upstream',
    `  default_type application/json;
  server {
    listen 127.0.0.1:${PORTS.upstream};
    root ${www};
    location / { }
  }`,
  );
  const upMaster = start('upstream', SERVER_CPU, NGINX, ['-p', upDir, '-c', upConf]);
  upstream = { pids: () => nginxPids(upMaster.pid) };
  // nginx as a plain reverse proxy: keep-alive to the upstream, the browser's Cookie not
  // forwarded (as oidc-bff does), buffers big enough that 64 KB never touches disk.
  const [ngDir, ngConf] = nginxConf(
    'nginx',
    `  large_client_header_buffers 4 16k;
  upstream api { server 127.0.0.1:${PORTS.upstream}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${PORTS.nginx};
    location /api/ {
      proxy_pass http://api/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Cookie "";
      proxy_buffers 32 4k;
    }
  }`,
    1000, // nginx's default: it frees per-connection memory by closing every 1000 requests
  );
  await waitFor('the OP', op, async () => (await get(`${OP}/.well-known/openid-configuration`)).status === 200);
  await waitFor('the nginx upstream', upMaster, async () => (await get(`http://127.0.0.1:${PORTS.upstream}/small.json`)).status === 200);

  // The two proxies under test, each restarted before every point so that its peak RSS
  // belongs to that point alone (neither gives memory back after a 512-connection run).
  const settings = bffSettings(cookieKey);
  const servers = {
    bff: restartable('oidc-bff', PORTS.bff, () => start('oidc-bff', SERVER_CPU, BFF_BIN, ['--config', settings], { RUST_LOG: env.BENCH_RUST_LOG || 'info', NO_COLOR: '1' }), (c) => [c.pid], `${BFF}/healthz`),
    nginx: restartable('nginx', PORTS.nginx, () => start('nginx', SERVER_CPU, NGINX, ['-p', ngDir, '-c', ngConf]), (c) => nginxPids(c.pid), `http://127.0.0.1:${PORTS.nginx}/api/small.json`),
  };
  if (BASELINE_BIN) {
    // The same settings on its own port (the same cookie key: the one session cookie
    // opens in both).
    const baseSettings = bffSettings(cookieKey, PORTS.baseline, path.join(RUN, 'settings-baseline.json'));
    const baseUrl = `http://localhost:${PORTS.baseline}`;
    servers.baseline = restartable(BASELINE_LABEL, PORTS.baseline, () => start('baseline', SERVER_CPU, BASELINE_BIN, ['--config', baseSettings], { RUST_LOG: env.BENCH_RUST_LOG || 'info', NO_COLOR: '1' }), (c) => [c.pid], `${baseUrl}/healthz`);
    servers.baseline.baseline = true;
  }
  // issue 14: Apache httpd + mod_auth_openidc in front of the same upstream.
  const apacheFile = apacheConf();
  servers.apache = restartable('apache', PORTS.apache, () => start('apache', SERVER_CPU, APACHE, ['-f', apacheFile, '-DFOREGROUND']), (c) => nginxPids(c.pid), `http://127.0.0.1:${PORTS.apache}/`);
  servers.apache.host = `localhost:${PORTS.apache}`;
  // issue 14: oidc-bff with its sessions in a private Redis (no persistence) on the server core.
  const redis = start('redis', SERVER_CPU, REDIS, ['--port', String(PORTS.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitFor('redis-server', redis, () => redisPing(PORTS.redis));
  const redisSettings = bffSettings(cookieKey, PORTS.bffRedis, path.join(RUN, 'settings-redis.json'), { session_store: `redis://127.0.0.1:${PORTS.redis}` });
  servers.bffRedis = restartable('bff-redis', PORTS.bffRedis, () => start('oidc-bff-redis', SERVER_CPU, BFF_BIN, ['--config', redisSettings], { RUST_LOG: env.BENCH_RUST_LOG || 'info', NO_COLOR: '1' }), (c) => [c.pid], `${BFF_REDIS}/healthz`);
  servers.bffRedis.sidePids = () => [redis.pid];
  await servers.nginx.restart();
  await servers.bff.restart();
  const bffIdleMb = rssKb(servers.bff.pids()) / 1024;
  const ngIdleMb = rssKb(servers.nginx.pids()) / 1024;

  // ---- Logins (before the load, on a quiet server).
  process.stderr.write(`bench: ${LOGINS} sequential headless logins (after 3 warm-up logins)\n`);
  await waitQuiet();
  login(['--n', '3']); // warm-up: the BFF's pooled TLS connection to the OP, its JWKS cache
  const scrape0 = await bffMetrics();
  const before = await bffMetrics(); // (a scrape is itself a request: measure one)
  const lj = JSON.parse(login(['--n', String(LOGINS), '--json']));
  const after = await bffMetrics();
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
  };
  const n = lj.logins.length;
  const login_ = {
    n,
    bffLogin: med(lj.logins.map((l) => l.bffLoginMs)),
    callback: med(lj.logins.map((l) => l.callbackMs)),
    bff: med(lj.logins.map((l) => l.bffMs)),
    bffMin: Math.min(...lj.logins.map((l) => l.bffMs)),
    op: med(lj.logins.map((l) => l.opMs)),
    total: med(lj.logins.map((l) => l.totalMs)),
  };
  // Server side, from oidc-bff's own /metrics: time in its two handlers, less the OP
  // token calls it timed itself. `before`'s own scrape lands in `after` (area "other",
  // like the callback): taken out with the cost of the scrape measured just before.
  const d = (k, a, b) => (a && b && a[k] !== undefined && b[k] !== undefined ? a[k] - b[k] : NaN);
  const scrapeSum = d('callback_sum', before, scrape0);
  const sv = {
    loginN: d('login_count', after, before),
    callbackN: d('callback_count', after, before) - 1,
    tokenN: d('token_count', after, before),
    loginMs: (d('login_sum', after, before) / n) * 1000,
    callbackMs: ((d('callback_sum', after, before) - scrapeSum) / n) * 1000,
    tokenMs: (d('token_sum', after, before) / n) * 1000,
  };
  sv.ok = sv.loginN === n && sv.callbackN === n && sv.tokenN === n && Number.isFinite(sv.callbackMs);
  sv.ownMs = sv.loginMs + sv.callbackMs - sv.tokenMs;
  login_.server = sv;

  const fresh = () => login();
  const freshApache = () => sharedLogin(LOAD_CPU, APACHE_URL, OP, ['--apache']);
  const freshRedis = () => sharedLogin(LOAD_CPU, BFF_REDIS, OP);
  // Apache's CSRF rule works as oidc-bff's: with a session but no X-CSRF, refused.
  let apIdleMb = NaN;
  {
    await servers.apache.restart();
    apIdleMb = rssKb(servers.apache.pids()) / 1024;
    const c = freshApache();
    const host = servers.apache.host;
    const without = await get(`http://127.0.0.1:${PORTS.apache}/api/small.json`, { cookie: c, host });
    const withIt = await get(`http://127.0.0.1:${PORTS.apache}/api/small.json`, { cookie: c, host, 'x-csrf': '1' });
    if (without.status !== 403 || withIt.status !== 200) {
      throw new Error(`Apache's CSRF rule: HTTP ${without.status} without X-CSRF (want 403), ${withIt.status} with it (want 200): see ${path.relative(ROOT, RUN)}/apache/error.log`);
    }
    await servers.apache.stop();
  }
  if (env.BENCH_HOLD === '1') {
    // For profiling: keep the stack up; a fresh cookie from `node bench/login.mjs …`.
    const hold = path.join(RUN, 'hold.env');
    fs.writeFileSync(
      hold,
      [
        `BFF_PID=${servers.bff.pids()[0]}`,
        `NGINX_PIDS="${servers.nginx.pids().join(' ')}"`,
        `BFF_URL=http://127.0.0.1:${PORTS.bff}`,
        `NGINX_URL=http://127.0.0.1:${PORTS.nginx}`,
        `LOGIN="node bench/login.mjs --bff ${BFF} --op ${OP}"`,
        `COOKIE_KEY=${cookieKey}`,
        '',
      ].join('\n'),
    );
    process.stderr.write(`bench: BENCH_HOLD=1: the stack is up (see ${path.relative(ROOT, hold)}); Ctrl-C stops it\n`);
    await new Promise(() => {});
  }

  // ---- Load
  const results = [];
  process.stderr.write(`bench: load, ${WARMUP} s warm-up + ${DURATION} s per point\n`);
  for (const [answer, urlPath, bytes] of [
    ['234 B', '/api/small.json', SMALL],
    ['64 KB', '/api/large.json', LARGE],
  ]) {
    const peers = [
      [servers.bff, fresh],
      ...(servers.baseline ? [[servers.baseline, fresh]] : []),
      // Redis mode at the small answer only (one point, also under BENCH_QUICK).
      ...(bytes === SMALL ? [[servers.bffRedis, freshRedis]] : []),
      [servers.apache, freshApache],
      [servers.nginx, fresh],
    ];
    for (const [s, cookie] of peers) {
      results.push({ group: 'main', answer, baseline: !!s.baseline, ...(await point({ label: `${answer} answer`, server: s, urlPath, cookie, conns: 64, expectBytes: bytes })) });
      // Apache and the Redis-mode oidc-bff do not idle through the others' points.
      if (s === servers.apache || s === servers.bffRedis) await s.stop();
    }
  }
  if (!QUICK) {
    for (const conns of [1, 512]) {
      // The baseline binary too at 512, where the upstream pool's size shows in RSS.
      const at = conns === 512 && servers.baseline ? [servers.bff, servers.baseline, servers.nginx] : [servers.bff, servers.nginx];
      for (const s of at) {
        results.push({ group: 'conns', ...(await point({ label: `${conns} connections`, server: s, urlPath: '/api/small.json', cookie: fresh, conns, expectBytes: SMALL })) });
      }
    }
    for (const [name, target] of [
      ['1 KB (smallest)', 1024],
      ['4 KB (one chunk)', 3800],
      ['12 KB (several chunks)', 12288],
    ]) {
      for (const s of [servers.bff, servers.nginx]) {
        const cookie = () => mint(cookieKey, fresh(), { target });
        results.push({ group: 'cookie', cookieName: name, ...(await point({ label: `cookie ${name}`, server: s, urlPath: '/api/small.json', cookie, conns: 64, expectBytes: SMALL })) });
      }
    }
    // The same real session, last seen 2 minutes ago: the idle window slides, so the BFF
    // re-seals and sends Set-Cookie on every request (wrk never stores it).
    const cookie = () => mint(cookieKey, fresh(), { age: 120 });
    results.push({ group: 'stale', ...(await point({ label: 'cookie last seen 2 min ago', server: servers.bff, urlPath: '/api/small.json', cookie, conns: 64, expectBytes: SMALL })) });
  }

  // ---- Report
  const md = report({ started, results, login: login_, bffIdleMb, ngIdleMb, apIdleMb });
  process.stdout.write(`\n${md}`);
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'latest.md'), md);
  process.stderr.write(`\nbench: written to bench/results/latest.md (process logs in ${path.relative(ROOT, RUN)}/)\n`);

  await Promise.all([...Object.values(servers).map((s) => s.stop()), stop(redis), stop(upMaster), stop(op)]);
}

// ---------------------------------------------------------------------------
// Markdown

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const mark = (ok) => (ok ? '✅' : '❌');

function machine() {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) || [])[1] || 'unknown CPU';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const kernel = os.release();
  const git = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const rev = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src', 'Cargo.toml']) ? ' + uncommitted changes in src/' : '';
  const ngv = spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '');
  const wrkv = (spawnSync(WRK, ['-v'], { encoding: 'utf8' }).stdout.match(/wrk [\d.]+/) || ['wrk'])[0];
  const apv = (spawnSync(APACHE, ['-v'], { encoding: 'utf8' }).stdout.match(/Apache\/\S+( \(\w+\))?/) || ['Apache httpd'])[0];
  const oidcv = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libapache2-mod-auth-openidc'], { encoding: 'utf8' }).stdout.trim() || 'unknown version';
  const redisv = (spawnSync(REDIS, ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/) || [, '?'])[1];
  return { cpu, nproc, kernel, rev: rev + dirty, ngv, wrkv, apv, oidcv, redisv };
}

function report({ started, results, login, bffIdleMb, ngIdleMb, apIdleMb }) {
  const m = machine();
  const find = (group, pred) => results.filter((r) => r.group === group && pred(r));
  const pair = (group, pred) => ({ b: find(group, (r) => r.server === 'oidc-bff' && pred(r))[0], n: find(group, (r) => r.server === 'nginx' && pred(r))[0] });
  const L = [];
  L.push(`# oidc-bff load benchmark`);
  L.push('');
  L.push(`- date: ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC; commit ${m.rev}`);
  L.push(`- machine: ${m.cpu}, nproc ${m.nproc}, Linux ${m.kernel}; ${m.ngv}, ${m.wrkv}`);
  L.push(`- peer: ${m.apv} with mod_auth_openidc ${m.oidcv} (Debian \`libapache2-mod-auth-openidc\`): mpm_event, 1 child process × ${APACHE_THREADS} threads, \`OIDCSessionType client-cookie\`, requests without \`X-CSRF\` refused, pooled keep-alive to the upstream (bench/README.md)`);
  L.push(`- Redis mode: oidc-bff with \`session_store: "redis://127.0.0.1:${PORTS.redis}"\`, a private redis-server ${m.redisv} (\`--save '' --appendonly no\`) on the server CPU; its CPU is counted apart (\`store\` in "Every point")`);
  L.push(
    PINNED
      ? `- pinning: servers on CPU ${SERVER_CPU} (the proxy under test with 1 worker or child process, the nginx upstream, Redis, the OP), wrk (1 thread) and the login client on CPU ${LOAD_CPU}`
      : `- pinning: none (fewer than 2 CPUs or BENCH_NO_PIN=1); oidc-bff with its default workers`,
  );
  L.push(`- each point: ${WARMUP} s warm-up, then ${DURATION} s measured; every request carries the session cookie and \`X-CSRF: 1\`; plain http on 127.0.0.1`);
  L.push('');
  L.push(`## oidc-bff vs nginx as a plain reverse proxy and Apache + mod_auth_openidc (64 connections, real session cookies)`);
  L.push('');
  L.push('| answer | proxy | req/s | p50 ms | p99 ms | peak RSS MB | CPU µs/req | req/s vs nginx | p99 vs nginx |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const mains = [];
  const baselines = [];
  const row = (answer, name, r, n, bold = false) => {
    const b2 = (x) => (bold ? `**${x}**` : x);
    L.push(`| ${answer} | ${name}${r.noisy ? ' ⚠️ noisy' : ''} | ${f0(r.rps)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f1(r.peakMb)} | ${f1(r.cpuUsPerReq)} | ${b2(`${f2(r.rps / n.rps)}×`)} | ${b2(`${f2(r.p99 / n.p99)}×`)} |`);
  };
  for (const answer of ['234 B', '64 KB']) {
    const { b, n } = pair('main', (r) => r.answer === answer);
    if (!b || !n) continue;
    mains.push({ answer, b, n });
    row(answer, 'oidc-bff', b, n, true);
    const base = find('main', (r) => r.baseline && r.answer === answer)[0];
    if (base) {
      row(answer, `oidc-bff ${BASELINE_LABEL}`, base, n);
      baselines.push({ answer, b, base });
    }
    const red = find('main', (r) => r.server === 'bff-redis' && r.answer === answer)[0];
    if (red) row(answer, 'oidc-bff, session_store redis', red, n);
    const ap = find('main', (r) => r.server === 'apache' && r.answer === answer)[0];
    if (ap) row(answer, 'Apache httpd + mod_auth_openidc', ap, n);
    L.push(`| ${answer} | nginx${n.noisy ? ' ⚠️ noisy' : ''} | ${f0(n.rps)} | ${f2(n.p50)} | ${f2(n.p99)} | ${f1(n.peakMb)} | ${f1(n.cpuUsPerReq)} | 1× | 1× |`);
  }
  if (baselines.length) {
    L.push('');
    L.push(`This build against \`${BASELINE_LABEL}\` (\`BENCH_BASELINE_BIN\`), measured in this run point for point:`);
    L.push('');
    L.push('| answer | req/s, this ÷ baseline | p99, this ÷ baseline | CPU µs/req, this − baseline |');
    L.push('|---|---:|---:|---:|');
    for (const { answer, b, base } of baselines) {
      L.push(`| ${answer} | ${f2(b.rps / base.rps)}× (${f0(b.rps)} vs ${f0(base.rps)}) | ${f2(b.p99 / base.p99)}× | ${b.cpuUsPerReq - base.cpuUsPerReq >= 0 ? '+' : ''}${f1(b.cpuUsPerReq - base.cpuUsPerReq)} |`);
    }
  }
  const cookie0 = mains[0]?.b;
  const apCookie = find('main', (r) => r.server === 'apache')[0];
  const redCookie = find('main', (r) => r.server === 'bff-redis')[0];
  L.push('');
  if (cookie0) {
    L.push(
      `Session cookies, each from a real login at the demo OP: oidc-bff ${f0(cookie0.cookieBytes)} bytes in ${cookie0.cookieChunks} cookie(s)` +
        `${redCookie ? `; in Redis mode ${f0(redCookie.cookieBytes)} bytes (a sealed session id)` : ''}` +
        `${apCookie ? `; mod_auth_openidc ${f0(apCookie.cookieBytes)} bytes in ${apCookie.apacheCookies} cookie(s)` : ''}. ` +
        `Idle RSS after start: oidc-bff ${f1(bffIdleMb)} MB, nginx ${f1(ngIdleMb)} MB (master + worker)${Number.isFinite(apIdleMb) ? `, Apache ${f1(apIdleMb)} MB (parent + child)` : ''}.`,
    );
  }
  L.push('');
  L.push(`### Targets (issue 14; printed and compared, never asserted)`);
  L.push('');
  L.push('| target | measured | |');
  L.push('|---|---|---|');
  const notRun = QUICK ? 'not measured (BENCH_QUICK)' : 'not measured';
  const target = (what, ok, figure) => L.push(ok === null ? `| ${what} | ${notRun} | – |` : `| ${what} | ${figure} | ${mark(ok)} |`);
  const byAnswer = Object.fromEntries(mains.map((x) => [x.answer, x]));
  const ratio = (answer, min) => {
    const x = byAnswer[answer];
    return x ? [x.b.rps / x.n.rps >= min, `${f2(x.b.rps / x.n.rps)}× (${f0(x.b.rps)} vs ${f0(x.n.rps)} req/s)`] : [null];
  };
  target('req/s ≥ 0.8× nginx, 234 B answer', ...ratio('234 B', 0.8));
  target('req/s ≥ 0.95× nginx, 64 KB answer', ...ratio('64 KB', 0.95));
  if (mains.length) {
    const p99s = mains.map(({ answer, b, n }) => ({ answer, x: b.p99 / n.p99 }));
    target('p99 ≤ 1.5× nginx, both answers', p99s.every((p) => p.x <= 1.5), p99s.map((p) => `${p.answer}: ${f2(p.x)}×`).join(', '));
  } else target('p99 ≤ 1.5× nginx, both answers', null);
  const small = byAnswer['234 B']?.b;
  target('≤ 20 µs of oidc-bff CPU per small request (234 B, 64 connections)', small ? small.cpuUsPerReq <= 20 : null, small && `${f1(small.cpuUsPerReq)} µs/req`);
  const allB = results.filter((r) => r.server === 'oidc-bff' && !r.baseline);
  const mainB = allB.filter((r) => r.group === 'main');
  const peak = Math.max(...mainB.map((r) => r.peakMb));
  target('peak RSS ≤ 25 MB at 64 connections', mainB.length ? peak <= 25 : null, `${f1(peak)} MB (the higher of the 234 B and 64 KB points)`);
  const c512 = allB.find((r) => r.group === 'conns' && r.conns === 512);
  target(
    'RSS bounded at 512 connections (≤ 1.5× the 64-connection peak, 234 B)',
    c512 && small ? c512.peakMb <= 1.5 * small.peakMb : null,
    c512 && small && `${f1(c512.peakMb)} MB at 512 vs ${f1(small.peakMb)} MB at 64 connections (${f2(c512.peakMb / small.peakMb)}×)`,
  );
  target(
    'Redis mode ≥ 0.9× cookie mode (234 B, 64 connections)',
    redCookie && small ? redCookie.rps / small.rps >= 0.9 : null,
    redCookie && small && `${f2(redCookie.rps / small.rps)}× (${f0(redCookie.rps)} vs ${f0(small.rps)} req/s)`,
  );
  const c12 = allB.find((r) => r.group === 'cookie' && r.cookieName === '12 KB (several chunks)');
  target(
    `a 12 KB (4-chunk) session ≥ 0.75× a ~3 KB one (the real login's)`,
    c12 && small ? c12.rps / small.rps >= 0.75 : null,
    c12 && small && `${f2(c12.rps / small.rps)}× (${f0(c12.rps)} req/s with ${f0(c12.cookieBytes)} bytes in ${c12.cookieChunks} cookies vs ${f0(small.rps)} with ${f0(small.cookieBytes)} in ${small.cookieChunks})`,
  );
  const sv = login.server;
  L.push(
    sv.ok
      ? `| full login, the BFF's own share < 2 ms | ${f2(sv.ownMs)} ms (server side, mean) | ${mark(sv.ownMs < 2)} |`
      : `| full login, the BFF's own share < 2 ms | ≤ ${f2(login.bff)} ms (both BFF requests incl. the OP's /token; /metrics unavailable) | ${mark(login.bff < 2)} |`,
  );
  L.push('');
  L.push(`## Login (${login.n} sequential headless logins after 3 warm-up ones)`);
  L.push('');
  L.push('| step | client side, median ms | oidc-bff side, mean ms |');
  L.push('|---|---:|---:|');
  const svv = (x) => (sv.ok ? f2(x) : 'n/a');
  L.push(`| GET /bff/login (state, nonce, PKCE, sealed login cookie, 302) | ${f2(login.bffLogin)} | ${svv(sv.loginMs)} |`);
  L.push(`| GET /callback (state, code exchange, ID-token validation, sealed session, 302) | ${f2(login.callback)} | ${svv(sv.callbackMs)} |`);
  L.push(`| … of which the OP's /token, as oidc-bff timed it | | ${svv(sv.tokenMs)} |`);
  L.push(`| **the BFF's own share** (both requests − the OP's /token) | ≤ ${f2(login.bff)} (fastest ${f2(login.bffMin)}, /token included) | **${svv(sv.ownMs)}** |`);
  L.push(`| the OP's pages (auth, login form, consent; not the BFF) | ${f2(login.op)} | |`);
  L.push(`| whole login, end to end | ${f2(login.total)} | |`);
  L.push('');
  L.push('Client side: wall time of each request as `bench/login.mjs` saw it (Node, loopback). oidc-bff side: its own `bff_http_request_duration_seconds` and `bff_op_request_duration_seconds{endpoint="token"}` from `/metrics`, differences over the timed logins.');

  if (results.some((r) => r.group !== 'main')) {
    L.push('');
    L.push('## How cost grows');
    L.push('');
    L.push('### Concurrent connections (234-byte answer, real session cookie)');
    L.push('');
    L.push('| connections | oidc-bff req/s | nginx req/s | ratio | oidc-bff p50 / p99 ms | nginx p50 / p99 ms | oidc-bff peak RSS MB | nginx peak RSS MB |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    const byConns = (c) => (c === 64 ? pair('main', (r) => r.answer === '234 B') : pair('conns', (r) => r.conns === c));
    for (const c of [1, 64, 512]) {
      const { b, n } = byConns(c);
      if (!b || !n) continue;
      L.push(`| ${c} | ${f0(b.rps)} | ${f0(n.rps)} | ${f2(b.rps / n.rps)}× | ${f2(b.p50)} / ${f2(b.p99)} | ${f2(n.p50)} / ${f2(n.p99)} | ${f1(b.peakMb)} | ${f1(n.peakMb)} |`);
    }
    const base512 = find('conns', (r) => r.conns === 512 && r.server === BASELINE_LABEL)[0];
    if (base512) {
      L.push('');
      L.push(`At 512 connections, \`${BASELINE_LABEL}\` (\`BENCH_BASELINE_BIN\`): ${f0(base512.rps)} req/s, p50 / p99 ${f2(base512.p50)} / ${f2(base512.p99)} ms, peak RSS ${f1(base512.peakMb)} MB.`);
    }
    L.push('');
    L.push('### Session cookie size (234-byte answer, 64 connections; sessions re-sealed from the real one)');
    L.push('');
    L.push('| session cookie | Cookie header bytes (cookies) | oidc-bff req/s | nginx req/s | ratio | oidc-bff p99 ms | oidc-bff CPU µs/req | oidc-bff peak RSS MB |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    const rows = [['real login', pair('main', (r) => r.answer === '234 B')]];
    for (const name of ['1 KB (smallest)', '4 KB (one chunk)', '12 KB (several chunks)']) rows.push([name, pair('cookie', (r) => r.cookieName === name)]);
    rows.sort((x, y) => (x[1].b?.cookieBytes ?? 0) - (y[1].b?.cookieBytes ?? 0));
    for (const [name, { b, n }] of rows) {
      if (!b || !n) continue;
      L.push(`| ${name} | ${f0(b.cookieBytes)} (${b.cookieChunks}) | ${f0(b.rps)} | ${f0(n.rps)} | ${f2(b.rps / n.rps)}× | ${f2(b.p99)} | ${f1(b.cpuUsPerReq)} | ${f1(b.peakMb)} |`);
    }
    const stale = find('stale', () => true)[0];
    const ref = pair('main', (r) => r.answer === '234 B');
    if (stale && ref.b) {
      L.push(
        `| real session, last seen 2 min ago: re-sealed + Set-Cookie on every request | ${f0(stale.cookieBytes)} (${stale.cookieChunks}) | ${f0(stale.rps)} | ${f0(ref.n.rps)} | ${f2(stale.rps / ref.n.rps)}× | ${f2(stale.p99)} | ${f1(stale.cpuUsPerReq)} | ${f1(stale.peakMb)} |`,
      );
    }
  }
  L.push('');
  L.push('## Every point');
  L.push('');
  L.push('| point | proxy | conns | req/s | p50 ms | p99 ms | max ms | peak RSS MB | CPU µs/req | proxy CPU % | upstream CPU % | store CPU % | wrk CPU % | server core busy % | other load % (server core / machine) | errors / non-2xx |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    L.push(
      `| ${r.label}${r.noisy ? ' ⚠️ noisy' : ''} | ${r.server} | ${r.conns} | ${f0(r.rps)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f1(r.max)} | ${f1(r.peakMb)} | ${f1(r.cpuUsPerReq)} | ${f0(r.cpuPct)} | ${f0(r.upstreamPct)} | ${f0(r.sidePct)} | ${f0(r.wrkPct)} | ${f0(r.corePct)} | ${f0(r.otherPct)} / ${f0(r.otherAllPct)} | ${r.errors} / ${r.non2xx} |`,
    );
  }
  L.push('');
  L.push(
    '"other load" is CPU time used by none of the proxy, the upstream, the store (Redis, in Redis mode) and wrk: on the server core, and on the whole machine (kernel softirq work for loopback traffic lands there too, so a few % is normal; much more means something else was running, e.g. a compile: rerun). See bench/README.md for the method.',
  );
  L.push('');
  return L.join('\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack || err}\n`);
  process.exitCode = 1;
  killAll();
});
