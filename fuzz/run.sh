#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 300), two at a time, on the committed
# corpora (which grow). Needs the nightly toolchain and cargo-fuzz (installed if missing).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O
mkdir -p logs
targets=(cookie_open callback_query jwt logout_token settings)
run() {
  local t=$1
  mkdir -p "corpus/$t"
  if cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 > "logs/$t.log" 2>&1; then
    echo "$t: ok ($(grep -E '^Done' "logs/$t.log" | tail -1))"
  else
    echo "$t: FAILED, see fuzz/logs/$t.log"; return 1
  fi
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" & a=$!
  b=
  if [ $((i + 1)) -lt ${#targets[@]} ]; then run "${targets[i+1]}" & b=$!; fi
  wait $a || status=1
  [ -n "$b" ] && { wait $b || status=1; }
done
exit $status
