#!/usr/bin/env bash
# Tests of scripts/demo that fail loudly (issue 15). Run by scripts/test after the debug
# build, or alone: bash tests/demo_script.sh
#   1. a busy port: non-zero exit, one line naming the port and its server, before any build
#   2. a missing prerequisite (curl): non-zero exit naming it
#   3. a server that dies at start: non-zero exit naming it, the others stopped
#   4. Ctrl-C: all three servers stop, exit 0
#   5. --fapi (issue 12): a headless sign-in through the FAPI 2.0 OP; the demo API sees a
#      DPoP-bound token and /bff/session says senderConstrained "dpop"
# Ports are moved by E2E_PORT_OFFSET so side-by-side runs do not collide.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OFF="${E2E_PORT_OFFSET:-0}"
export DEMO_OP_PORT=$((28443 + OFF)) DEMO_API_PORT=$((23000 + OFF)) DEMO_BFF_PORT=$((25443 + OFF))
export DEMO_PROFILE=debug
tmp="$(mktemp -d)"
holder=""
demo=""
finish() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  [ -n "$demo" ] && kill "$demo" 2>/dev/null
  rm -rf "$tmp"
}
trap finish EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# --- 1. busy port ------------------------------------------------------------------
node -e "require('net').createServer().listen($DEMO_API_PORT, '127.0.0.1', () => console.log('listening'))" >"$tmp/holder.out" &
holder=$!
for _ in $(seq 1 50); do grep -q listening "$tmp/holder.out" 2>/dev/null && break; sleep 0.1; done
start=$(date +%s)
./scripts/demo >"$tmp/out" 2>"$tmp/err"
code=$?
took=$(($(date +%s) - start))
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=""
if [ "$code" = 0 ]; then fail "busy port: exit code 0"; fi
if ! grep -q "port $DEMO_API_PORT (the demo API) is already in use" "$tmp/err"; then
  fail "busy port: stderr does not name port $DEMO_API_PORT and the demo API:"; cat "$tmp/err" >&2
fi
if grep -q "is running" "$tmp/out"; then fail "busy port: it still said the demo is running"; fi
if [ "$took" -gt 10 ]; then fail "busy port: took ${took}s (the check comes before any build)"; fi
[ "$failures" = 0 ] && pass "busy port $DEMO_API_PORT: exit $code, named in one line"

# --- 2. a missing prerequisite --------------------------------------------------------
mkdir -p "$tmp/bin"
for t in bash env dirname cargo node npm openssl sed; do
  p="$(command -v "$t")" && ln -s "$p" "$tmp/bin/$t"
done
before=$failures
PATH="$tmp/bin" ./scripts/demo >"$tmp/out" 2>"$tmp/err"
code=$?
if [ "$code" = 0 ]; then fail "no curl: exit code 0"; fi
if ! grep -q "'curl' is required" "$tmp/err"; then fail "no curl: not named:"; cat "$tmp/err" >&2; fi
[ "$failures" = "$before" ] && pass "missing curl: exit $code, named"

# --- 3. a server that dies at start ----------------------------------------------------
# The OP refuses a non-numeric access-token lifetime and exits 2 at once.
before=$failures
OP_ACCESS_TOKEN_TTL=not-a-number ./scripts/demo >"$tmp/out" 2>"$tmp/err" &
demo=$!
for _ in $(seq 1 1200); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then
  fail "dying OP: the script was still running after 120 s"
  kill "$demo"
fi
wait "$demo"
code=$?
demo=""
if [ "$code" = 0 ]; then fail "dying OP: exit code 0"; fi
if ! grep -q "demo: the OP (node demo/op/server.mjs) stopped (exit code 2)" "$tmp/err"; then
  fail "dying OP: the OP is not named:"; tail -n 20 "$tmp/err" >&2
fi
if grep -q "is running" "$tmp/out"; then fail "dying OP: it still said the demo is running"; fi
for port in $DEMO_OP_PORT $DEMO_API_PORT $DEMO_BFF_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "dying OP: something still listens on $port"; fi
done
[ "$failures" = "$before" ] && pass "dying OP: exit $code, named"

# --- 4. Ctrl-C stops all three ------------------------------------------------------------
# A terminal's Ctrl-C is SIGINT to the script's process group; node starts the script in a
# new group with default signal handling (a background job of this shell would ignore it).
before=$failures
node - >"$tmp/ctrlc" 2>&1 <<'JS'
const { spawn } = require('node:child_process');
const child = spawn('./scripts/demo', [], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let sent = false;
const seen = (d) => {
  out += d;
  if (!sent && out.includes('is running')) {
    sent = true;
    setTimeout(() => process.kill(-child.pid, 'SIGINT'), 500);
  }
};
child.stdout.on('data', seen);
child.stderr.on('data', seen);
const timer = setTimeout(() => { console.log('TIMEOUT'); process.kill(-child.pid, 'SIGKILL'); }, 120000);
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  console.log(out);
  console.log(`EXIT ${code} ${signal} SENT ${sent}`);
});
JS
sleep 1
if ! grep -q "EXIT 0 null SENT true" "$tmp/ctrlc"; then fail "Ctrl-C: not a clean exit 0:"; tail -n 20 "$tmp/ctrlc" >&2; fi
if ! grep -q "demo: stopping the OP, the demo API and oidc-bff" "$tmp/ctrlc"; then fail "Ctrl-C: no stopping line"; fi
for port in $DEMO_OP_PORT $DEMO_API_PORT $DEMO_BFF_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "Ctrl-C: something still listens on $port"; fi
done
[ "$failures" = "$before" ] && pass "Ctrl-C: all three stopped, exit 0"

# --- 5. --fapi: FAPI 2.0 end to end ---------------------------------------------------------
before=$failures
./scripts/demo --fapi >"$tmp/fapi.out" 2>&1 &
demo=$!
for _ in $(seq 1 1200); do
  grep -q "is running" "$tmp/fapi.out" && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "is running" "$tmp/fapi.out"; then
  fail "--fapi: the demo did not start:"; tail -n 20 "$tmp/fapi.out" >&2
else
  bff="https://localhost:$DEMO_BFF_PORT"
  cookie="$(NODE_EXTRA_CA_CERTS=demo/certs/ca.pem node bench/login.mjs --bff "$bff" --op "https://localhost:$DEMO_OP_PORT" 2>"$tmp/login.err" | tail -n 1)"
  get() { curl -s --cacert demo/certs/ca.pem -H "Cookie: $cookie" -H "X-CSRF: 1" "$bff$1"; }
  if ! get /api/data | grep -q '"senderConstrained":"dpop"'; then
    fail "--fapi: the demo API did not see a DPoP-bound token:"; get /api/data >&2; cat "$tmp/login.err" >&2
  fi
  if ! get /bff/session | grep -q '"senderConstrained":"dpop"'; then fail "--fapi: /bff/session is not sender-constrained"; fi
  if grep -q "invalid_dpop_proof\|ERROR" "$tmp/fapi.out"; then fail "--fapi: errors in the log:"; grep "invalid_dpop_proof\|ERROR" "$tmp/fapi.out" >&2; fi
fi
kill -TERM "$demo" 2>/dev/null; wait "$demo" 2>/dev/null; demo=""
[ "$failures" = "$before" ] && pass "--fapi: signed in through the FAPI 2.0 OP, DPoP-bound token at the API"

if [ "$failures" != 0 ]; then
  echo "demo script tests: $failures failure(s)" >&2
  exit 1
fi
echo "demo script tests: all passed"
