#!/usr/bin/env bash
# What round trips cost PostgreSQL on this machine: pgbench runs `BEGIN; 8 × INSERT; COMMIT`
# at 64 clients, one statement at a time, then the same statements pipelined
# (`\startpipeline`), and prints transactions per second for each. The reason the store sends
# statements ahead (crates/store/src/postgres_backend.rs). Usage:
# scripts/pipeline-bench.sh postgres://user:pass@host/db [SECONDS]
# It creates and drops a table `pipeline_bench_raw` in that database.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
db=${1:?usage: scripts/pipeline-bench.sh postgres://… [SECONDS]}
secs=${2:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"; psql "$db" -qc "DROP TABLE IF EXISTS pipeline_bench_raw" >/dev/null 2>&1 || true' EXIT
psql "$db" -qc "DROP TABLE IF EXISTS pipeline_bench_raw" \
  -c "CREATE TABLE pipeline_bench_raw (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, body TEXT NOT NULL)"
insert="INSERT INTO pipeline_bench_raw (at, body) VALUES (1, 'a row of about the size of an audit event, give or take a few words');"
{ echo "BEGIN;"; for _ in 1 2 3 4 5 6 7 8; do echo "$insert"; done; echo "COMMIT;"; } >"$work/one-by-one.sql"
{ echo '\startpipeline'; cat "$work/one-by-one.sql"; echo '\endpipeline'; } >"$work/pipelined.sql"
for mode in one-by-one pipelined; do
  tps=$(pgbench -n -M prepared -c64 -j2 -T"$secs" -f "$work/$mode.sql" "$db" 2>/dev/null | awk '/^tps/ {print $3}')
  printf '%-12s %10s transactions/s (BEGIN; 8 x INSERT; COMMIT; pgbench -c64)\n' "$mode" "$tps"
done
