// What bench/run.mjs and bench/ws.mjs share: the repository root and the demo CA, CPU
// pinning, child processes (each logging to <dir>/<name>.log, all stopped when this
// process exits, Ctrl-C included), a GET that trusts the demo CA, waiting until a child is
// ready, /proc status values, oidc-bff's settings for the demo OP's client, and a
// headless login (bench/login.mjs).

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CA_FILE = path.join(ROOT, 'demo', 'certs', 'ca.pem');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `[cmd, args]` to run on `cpu` (through taskset), or as they are when `cpu` is null. */
export const pinned = (cpu, cmd, args) => (cpu === null ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]]);

/** The children still running; killAll() (run on exit) stops them. */
export const children = new Set();
export function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(130));

/**
 * A starter of children logging to `dir`: `start(name, cpu, cmd, args, extraEnv)`. With
 * `pidFile`, the running children's pids are kept in it (for a shell's cleanup).
 */
export function launcher(dir, { pidFile } = {}) {
  const recordPids = () => {
    if (pidFile) fs.writeFileSync(pidFile, [...children].map((c) => c.pid).join('\n') + '\n');
  };
  return function start(name, cpu, cmd, args, extraEnv = {}) {
    const log = path.join(dir, `${name}.log`);
    const out = fs.openSync(log, 'w');
    const [c, a] = pinned(cpu, cmd, args);
    const child = spawn(c, a, { cwd: ROOT, env: { ...process.env, ...extraEnv }, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    children.add(child);
    recordPids();
    child.exitInfo = undefined;
    child.once('exit', (code, signal) => {
      child.exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
      children.delete(child);
      recordPids();
    });
    child.log = () => fs.readFileSync(log, 'utf8');
    child.name = name;
    return child;
  };
}

/** One GET (https trusting the demo CA): {status, headers, body}. */
export function get(url, headers = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { headers, ca: fs.readFileSync(CA_FILE), agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Waits (30 s at most) until `probe()` is true; fails early when `child` exits. */
export async function waitFor(what, child, probe) {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitInfo !== undefined) throw new Error(`${what} exited (${child.exitInfo}):\n${child.log().slice(-3000)}`);
    try {
      if (await probe()) return;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready after 30 s (${last}):\n${child.log().slice(-3000)}`);
}

/** A `/proc/<pid>/status` value in kB (`VmRSS`, `VmHWM`), 0 when the process is gone. */
export function statusKb(pid, key) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** bench/login.mjs against `bff` and `op` (on `cpu`, or unpinned when null): its stdout. */
export function login(cpu, bff, op, extra = []) {
  const [c, a] = pinned(cpu, process.execPath, [path.join(ROOT, 'bench', 'login.mjs'), '--bff', bff, '--op', op, ...extra]);
  const r = spawnSync(c, a, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`bench/login.mjs failed:\n${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/**
 * oidc-bff's settings as the demo OP's client: issuer `op`, served at `bff` (listening on
 * 127.0.0.1:`port`), `/api` to `upstream`, trusting the demo CA; `more` on top.
 */
export const demoBffSettings = ({ op, bff, port, upstream }, more) => ({
  issuer: op,
  client_id: 'oidc-bff-demo',
  client_secret: 'demo-client-secret-not-for-production',
  api_endpoint: upstream,
  base_url: bff,
  listen: `127.0.0.1:${port}`,
  ca_file: CA_FILE,
  ...more,
});

/**
 * Writes `file`: the load benchmarks' oidc-bff settings (`demoBffSettings` with one worker,
 * no access log, a fresh cookie key, scope with `offline_access`), `more` on top.
 */
export function writeBenchSettings(file, where, more = {}) {
  const settings = demoBffSettings(where, {
    scope: 'openid profile email offline_access',
    cookie_keys: [crypto.randomBytes(32).toString('base64')],
    workers: 1,
    access_log: false,
    ...more,
  });
  fs.writeFileSync(file, JSON.stringify(settings));
}
