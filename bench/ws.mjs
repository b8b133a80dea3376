// The WebSocket benchmark behind `bench/ws` (issue 11): N open sockets (default 1,000)
// through oidc-bff (release, one worker) to a WebSocket echo upstream, against the same
// sockets straight to the upstream. Reports echo round trips per second with every socket
// busy (one message in flight per socket) and the RSS each open socket costs. Writes
// Markdown to bench/results/latest-websocket.md and prints it. Under 2 minutes.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

import { ROOT, writeBenchSettings, get, launcher, login as sharedLogin, sleep, statusKb, waitFor } from './lib.mjs';

const env = process.env;
const RUN = path.resolve(env.BENCH_RUN_DIR || path.join(ROOT, 'target', 'bench-ws'));
const BFF_BIN = env.BENCH_BFF_BIN || path.join(RUN, 'oidc-bff');
const SOCKETS = Number(env.BENCH_SOCKETS || 1000);
const DURATION = Number(env.BENCH_DURATION || 10);
const WARMUP = Number(env.BENCH_WARMUP || 2);
const MESSAGE = Number(env.BENCH_MESSAGE || 64);
const PORT_BASE = Number(env.BENCH_PORT_BASE || 29000);
const PORTS = { op: PORT_BASE + 443, bff: PORT_BASE + 80, upstream: PORT_BASE + 81 };
const OP = `https://localhost:${PORTS.op}`;
const BFF = `http://localhost:${PORTS.bff}`;
const NCPU = os.cpus().length;
const PINNED = NCPU >= 2 && env.BENCH_NO_PIN !== '1';
const SERVER_CPU = PINNED ? String(env.BENCH_SERVER_CPU || 0) : null;

// Children log to RUN and are all stopped on exit (bench/lib.mjs); the servers on SERVER_CPU.
const launch = launcher(RUN);
const start = (name, cmd, args, extraEnv) => launch(name, SERVER_CPU, cmd, args, extraEnv);
/** The RSS of `pid` (under taskset it is the real process's: taskset execs). */
const rssKb = (pid) => statusKb(pid, 'VmRSS');

/** Opens `n` sockets to `url` (100 at a time). */
async function openAll(url, n, headers) {
  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) {
      batch.push(
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 10_000 });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
          ws.once('unexpected-response', (_, res) => reject(new Error(`HTTP ${res.statusCode} for ${url}`)));
        }),
      );
    }
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/** Every socket echoes one message at a time: round trips per second over DURATION s. */
async function echoRate(sockets) {
  const payload = Buffer.alloc(MESSAGE, 120).toString();
  let counting = false;
  let count = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      if (counting) count++;
      if (running) ws.send(payload);
    });
    ws.send(payload);
  }
  await sleep(WARMUP * 1000);
  counting = true;
  const t0 = process.hrtime.bigint();
  await sleep(DURATION * 1000);
  counting = false;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  await sleep(300);
  for (const ws of sockets) ws.removeAllListeners('message');
  return count / seconds;
}

async function closeAll(sockets) {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          ws.once('close', resolve);
          ws.close(1000);
          setTimeout(resolve, 5000);
        }),
    ),
  );
}

// This process is already pinned to the load CPU (bench/ws runs it under taskset).
const login = () => sharedLogin(null, BFF, OP);

async function main() {
  fs.mkdirSync(RUN, { recursive: true });
  const started = new Date();
  const op = start('op', process.execPath, [path.join(ROOT, 'demo', 'op', 'server.mjs')], {
    OP_PORT: String(PORTS.op),
    OP_HOST: '127.0.0.1',
    BFF_ORIGIN: BFF,
    OP_ACCESS_TOKEN_TTL: '3600',
  });
  const up = start('ws-upstream', process.execPath, [path.join(ROOT, 'bench', 'ws-upstream.mjs'), String(PORTS.upstream)]);
  const settings = path.join(RUN, 'settings.json');
  writeBenchSettings(settings, { op: OP, bff: BFF, port: PORTS.bff, upstream: `http://127.0.0.1:${PORTS.upstream}` });
  await waitFor('the OP', op, async () => (await get(`${OP}/.well-known/openid-configuration`)).status === 200);
  const bff = start('oidc-bff', BFF_BIN, ['--config', settings], { RUST_LOG: env.BENCH_RUST_LOG || 'warn', NO_COLOR: '1' });
  await waitFor('oidc-bff', bff, async () => (await get(`${BFF}/healthz`)).status === 200);
  await sleep(500);
  const cookie = login();

  // Straight to the upstream.
  const upIdle = rssKb(up.pid);
  let sockets = await openAll(`ws://127.0.0.1:${PORTS.upstream}/echo`, SOCKETS);
  await sleep(500);
  const upOpen = rssKb(up.pid);
  const direct = await echoRate(sockets);
  await closeAll(sockets);
  await sleep(1000);

  // Through oidc-bff.
  const bffIdle = rssKb(bff.pid);
  const upIdle2 = rssKb(up.pid);
  sockets = await openAll(`ws://localhost:${PORTS.bff}/api/echo`, SOCKETS, { Cookie: cookie, Origin: BFF });
  await sleep(500);
  const bffOpen = rssKb(bff.pid);
  const upOpen2 = rssKb(up.pid);
  const metrics = (await get(`${BFF}/metrics`)).body.toString('utf8');
  const gauge = Number((metrics.match(/^bff_websockets_open (\d+)/m) || [0, 0])[1]);
  const through = await echoRate(sockets);
  const bffBusy = rssKb(bff.pid);
  await closeAll(sockets);

  const perSocket = (a, b) => (b > a ? ((b - a) / SOCKETS).toFixed(1) : '≈0 (its GC gave memory back)');
  const git = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const md = `# WebSocket benchmark — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC

commit ${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain']) ? ' (with local changes)' : ''} · ${os.cpus()[0]?.model || 'cpu'} · nproc ${NCPU}${PINNED ? ` · servers pinned to CPU ${SERVER_CPU}, the load on the other` : ''}

${SOCKETS} open sockets, each with one ${MESSAGE}-byte text message in flight (sent again on
its echo), ${WARMUP} s warm-up, ${DURATION} s measured. oidc-bff: release build, one worker,
plain http, a session cookie from a real login at the demo OP; the upstream is a
\`ws\` (Node) echo server. \`bff_websockets_open\` read ${gauge} with all sockets open.

| path | echo round trips/s | RSS per open socket |
|---|---:|---:|
| straight to the upstream | ${Math.round(direct)} | upstream ${perSocket(upIdle, upOpen)} KiB |
| through oidc-bff | ${Math.round(through)} | oidc-bff ${perSocket(bffIdle, bffOpen)} KiB (upstream ${perSocket(upIdle2, upOpen2)} KiB) |

oidc-bff RSS: ${(bffIdle / 1024).toFixed(1)} MiB idle, ${(bffOpen / 1024).toFixed(1)} MiB with ${SOCKETS} sockets open, ${(bffBusy / 1024).toFixed(1)} MiB after the echo run.
Through oidc-bff each round trip crosses two more hops (browser→BFF, BFF→upstream, both
ways) on the server core, which the upstream shares; the ratio is the cost of the proxy
hop, not of the upstream.
`;
  fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'latest-websocket.md'), md);
  process.stdout.write(md);
  process.exit(0);
}

main().catch((e) => {
  console.error(`bench/ws: ${e.stack || e}`);
  process.exit(1);
});
