#!/usr/bin/env bash
# Load benchmark (wrk, from Debian): the public warranty look-up and case creation at 64
# connections against `aftercare serve` with the demo's data, next to a bare axum hello-world
# in the same run, on SQLite and (with a URL) PostgreSQL. Prints requests/s and latency
# percentiles, after a three-second warm-up of each. Usage:
# scripts/load-bench.sh [postgres://user:pass@host/db] [SECONDS]
# The PostgreSQL database is dropped and created again: give a scratch one.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
secs=${2:-20}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --quiet --release --bin aftercare
cargo build --quiet --release -p aftercare-web --example hello
bin=target/release/aftercare
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/examples/hello 127.0.0.1:9001 >/dev/null & pids+=($!)
sleep 0.5
run() { # NAME URL [SCRIPT]
  local name=$1 url=$2 script=${3:-}
  local out
  # Three seconds first, not counted: connections opened, caches and pools warm.
  if [ -n "$script" ]; then wrk -t2 -c64 -d3s -s "$script" "$url" >/dev/null; else wrk -t2 -c64 -d3s "$url" >/dev/null; fi
  if [ -n "$script" ]; then out=$(wrk -t2 -c64 -d"${secs}s" --latency -s "$script" "$url"); else out=$(wrk -t2 -c64 -d"${secs}s" --latency "$url"); fi
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}
bench_db() { # LABEL URL PORT
  local label=$1 db=$2 port=$3
  "$bin" --policies policies --db "$db" demo --bind "127.0.0.1:$port" --sweep-every 0 \
    --mail-dir "$work/mail-$port" --evidence-dir "$work/ev-$port" >"$work/$port.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
  export TOKEN
  TOKEN=$("$bin" --db "$db" token create --email admin@demo.test --name bench --scope cases:write --scope cases:read | sed -n 2p)
  run "hello-world (bare axum)" "http://127.0.0.1:9001/"
  run "warranty look-up, $label" "http://127.0.0.1:$port" scripts/wrk/warranty.lua
  run "open a case, $label" "http://127.0.0.1:$port" scripts/wrk/open-case.lua
}
echo "wrk -t2 -c64 -d${secs}s on $(nproc) cores (wrk shares them with the server)"
bench_db sqlite "sqlite://$work/bench.db" 9101
if [ -n "$pg" ]; then
  admin=${pg%/*}/postgres
  name=${pg##*/}
  psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
  bench_db postgresql "$pg" 9102
fi
