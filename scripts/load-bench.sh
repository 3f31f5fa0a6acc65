#!/usr/bin/env bash
# Load benchmark (wrk, from Debian): the public warranty look-up and case creation at 64
# connections against `aftercare serve` with the demo's data, next to a bare axum hello-world
# in the same run, on SQLite and (with a URL) PostgreSQL. Prints requests/s and latency
# percentiles, after a three-second warm-up of each, and the CPU time a request took in the
# server and in PostgreSQL (from /proc). Usage:
# scripts/load-bench.sh [postgres://user:pass@host/db] [SECONDS]
# The PostgreSQL database is dropped and created again: give a scratch one.
# Cases are opened on UNITS (default 20,000) generated units, each in an order of its own and
# one customer to every ten, imported beside the demo's data: a shop's registry, where the
# demo's 309 units would put every case on the same few rows.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
secs=${2:-20}
export UNITS=${UNITS:-20000}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --quiet --release --bin aftercare
cargo build --quiet --release -p aftercare-web --example hello
tdir=${CARGO_TARGET_DIR:-target}
bin=$tdir/release/aftercare
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$tdir/release/examples/hello" 127.0.0.1:9001 >/dev/null & pids+=($!)
sleep 0.5
# CPU time in clock ticks: of process SERVER (none: 0), of all PostgreSQL processes, of the
# whole machine (busy), of all of it.
ticks() {
  local server=0 pg=0
  [ -n "${SERVER:-}" ] && server=$(awk '{print $14 + $15}' "/proc/$SERVER/stat" 2>/dev/null || echo 0)
  pg=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" {t += $14 + $15} END {print t + 0}')
  echo "$server $pg $(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)"
}
run() { # NAME URL [SCRIPT] [WARM]; sets RPS. With SERVER set, also the CPU each request took.
  local name=$1 url=$2 script=${3:-} warm=${4:-3}
  local out before after
  # Three seconds first, not counted: connections opened, caches and pools warm.
  if [ "$warm" -gt 0 ]; then
    if [ -n "$script" ]; then wrk -t2 -c64 -d"${warm}s" -s "$script" "$url" >/dev/null; else wrk -t2 -c64 -d"${warm}s" "$url" >/dev/null; fi
  fi
  before=$(ticks)
  if [ -n "$script" ]; then out=$(wrk -t2 -c64 -d"${secs}s" --latency -s "$script" "$url"); else out=$(wrk -t2 -c64 -d"${secs}s" --latency "$url"); fi
  after=$(ticks)
  RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" "$RPS" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
  if [ -n "${SERVER:-}" ]; then
    # Per request: CPU microseconds of the server and of PostgreSQL (its connections are the
    # pool's, alive through the run), and the share of the machine busy.
    awk -v b="$before" -v a="$after" -v n="$RPS" -v d="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      split(b, x, " "); split(a, y, " "); req = n * d; us = 1000000 / hz
      printf "%-34s server %5.0f us, postgresql %5.0f us of CPU a request; machine %3.0f %% busy\n", "",
        (y[1] - x[1]) * us / req, (y[2] - x[2]) * us / req, 100 * (y[3] - x[3]) / (y[4] - x[4]) }'
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "-" }'; }
max_case() { # DB URL: the highest case id
  case $1 in
    postgres*) psql "$1" -Atqc "SELECT COALESCE(MAX(id), 0) FROM cases" ;;
    *) python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COALESCE(MAX(id),0) FROM cases").fetchone()[0])' "${1#sqlite://}" ;;
  esac
}
raw_inserts() { # PostgreSQL URL: single-row inserts per second at 64 clients (pgbench), sets RAW
  psql "$1" -qc "DROP TABLE IF EXISTS bench_raw" -c "CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, body TEXT NOT NULL)"
  echo "INSERT INTO bench_raw (at, body) VALUES (1, 'a row of about the size of an audit event, give or take a few words');" >"$work/insert.sql"
  pgbench -n -c64 -j2 -T3 -f "$work/insert.sql" "$1" >/dev/null 2>&1
  local before after
  before=$(ticks)
  local TIMEFORMAT='%U %S'
  { time pgbench -n -c64 -j2 -T"$secs" -f "$work/insert.sql" "$1" >"$work/pgbench.out" 2>/dev/null; } 2>"$work/pgbench.time"
  RAW=$(awk '/^tps/ {print $3}' "$work/pgbench.out")
  after=$(ticks)
  printf '%-34s %10s rows/s (pgbench -c64, one INSERT per transaction)\n' "raw single-row insert, postgresql" "$RAW"
  # pgbench's connections end with it, and their CPU with them: PostgreSQL's share is the
  # machine's busy time less pgbench's own.
  awk -v b="$before" -v a="$after" -v n="$RAW" -v d="$secs" -v hz="$(getconf CLK_TCK)" -v own="$(cat "$work/pgbench.time")" 'BEGIN {
    split(b, x, " "); split(a, y, " "); split(own, o, " "); req = n * d
    printf "%-34s postgresql %5.0f us of CPU an insert; machine %3.0f %% busy\n", "",
      ((y[3] - x[3]) / hz - o[1] - o[2]) * 1000000 / req, 100 * (y[3] - x[3]) / (y[4] - x[4]) }'
  psql "$1" -qc "DROP TABLE bench_raw"
}
registry() { # FILE: the generated units, orders and customers as an import batch
  python3 - "$1" "$UNITS" <<'PY'
import datetime, json, sys
path, n = sys.argv[1], int(sys.argv[2])
today = datetime.date.today()
day = lambda ago: (today - datetime.timedelta(days=ago)).isoformat()
customers = [{"ref": f"bench-{c}", "kind": "consumer", "name": f"Bench {c}",
              "email": f"bench-{c}@bench.test", "country": "CN"} for c in range((n + 9) // 10)]
units, orders = [], []
for i in range(1, n + 1):
    serial = f"BENCH-IMA-{i}"
    units.append({"serial": serial, "sku": "IMASK-M1", "manufactured_on": day(200 + i % 90)})
    orders.append({"order_no": f"BENCH-ORD-{i}", "customer": f"bench-{(i - 1) // 10}",
                   "channel": "official", "distance": True, "ordered_on": day(100 + i % 60),
                   "shipped_on": day(99 + i % 60), "delivered_on": day(97 + i % 60),
                   "currency": "CNY", "paid_minor": 129900,
                   "lines": [{"sku": "IMASK-M1", "serial": serial, "price_minor": 129900}]})
json.dump({"customers": customers, "units": units, "orders": orders}, open(path, "w"))
PY
}
bench_db() { # LABEL URL PORT
  local label=$1 db=$2 port=$3
  "$bin" --policies policies --db "$db" demo --bind "127.0.0.1:$port" --sweep-every 0 \
    --mail-dir "$work/mail-$port" --evidence-dir "$work/ev-$port" >"$work/$port.log" 2>&1 & pids+=($!)
  local server=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
  "$bin" --policies policies --db "$db" import "$work/registry.json" >/dev/null
  # Statistics, as a PostgreSQL in service has them from autovacuum.
  if [[ $db == postgres* ]]; then psql "$db" -qc ANALYZE; fi
  export TOKEN FIRST
  TOKEN=$("$bin" --db "$db" token create --email admin@demo.test --name bench --scope cases:write --scope cases:read | sed -n 2p)
  SERVER='' run "hello-world (bare axum)" "http://127.0.0.1:9001/"
  SERVER=$server
  run "warranty look-up, $label" "http://127.0.0.1:$port" scripts/wrk/warranty.lua
  FIRST=$(( $(max_case "$db") + 1 ))
  run "open a case, $label" "http://127.0.0.1:$port" scripts/wrk/open-case.lua
  OPEN=$RPS
  # Each draft the open run left is submitted once: no warm-up, fewer seconds than opened.
  run "move a case (submit), $label" "http://127.0.0.1:$port" scripts/wrk/move-case.lua 0
  MOVE=$RPS
  if [[ $db == postgres* ]]; then
    raw_inserts "$db"
    echo "ratios to the raw insert rate: open $(ratio "$OPEN" "$RAW"), move $(ratio "$MOVE" "$RAW") (target: 35 %)"
  fi
  SERVER=''

}
echo "wrk -t2 -c64 -d${secs}s on $(nproc) cores (wrk shares them with the server); cases on $UNITS generated units"
registry "$work/registry.json"
bench_db sqlite "sqlite://$work/bench.db" 9101
if [ -n "$pg" ]; then
  admin=${pg%/*}/postgres
  name=${pg##*/}
  psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
  bench_db postgresql "$pg" 9102
fi
