#!/usr/bin/env bash
# The desk's queue at scale: the demo's data plus N generated cases (default 100,000; a
# quarter closed, a fifth with no deadline, the rest due within 30 days, each with a pending
# timer), then wrk on the queue's first page, a page half-way down (by its keyset cursor),
# and a page filtered by seller and state, as a staff member who sees every seller.
# On SQLite and (with a URL) PostgreSQL. Usage:
# scripts/queue-bench.sh [postgres://user:pass@host/db] [N] [SECONDS]
# The PostgreSQL database is dropped and created again: give a scratch one.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
n=${2:-100000}
secs=${3:-10}
. scripts/bench-lib.sh
max=9223372036854775807

# The generated cases, in either dialect: $1 is the row source of 1..N as `i`.
cases_sql() {
  cat <<SQL
INSERT INTO cases (kind, state, policy_id, facts, opened_at, updated_at, next_due_at)
SELECT 'warranty_service',
  CASE i % 4 WHEN 0 THEN 'submitted' WHEN 1 THEN 'approved' WHEN 2 THEN 'received' ELSE 'closed' END,
  CASE i % 5 WHEN 0 THEN 'imask' WHEN 1 THEN 'imkey' WHEN 2 THEN 'imiki' WHEN 3 THEN 'cryptki' ELSE 'maintenance' END,
  '{}', $now, $now,
  CASE WHEN i % 5 = 4 THEN $max ELSE $now + CAST(i AS BIGINT) * 7919 % 2592000 * 1000000 END
FROM $1;
INSERT INTO timers (case_id, kind, due_at)
SELECT id, 'inspect_by_breached', next_due_at FROM cases WHERE next_due_at < $max AND facts = '{}'
  AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.case_id = cases.id);
SQL
}

bench_db() { # LABEL URL PORT LOAD-COMMAND COUNT-COMMAND CURSOR-COMMAND
  local label=$1 db=$2 port=$3
  # The demo's registry, staff and cases, then the generated cases.
  demo_then_serve "$db" "$port" "$4"
  local open mid
  open=$(eval "$5" | head -1)
  mid=$(eval "$6" | head -1)
  echo "$label: $open open cases in the queue"
  run "queue, first page ($label)" "http://127.0.0.1:$port/desk"
  run "queue, page at case $((open / 2)) ($label)" "http://127.0.0.1:$port/desk?after=$mid"
  run "queue, IMASK received ($label)" "http://127.0.0.1:$port/desk?seller=IMASK&state=received"
}

open_sql="SELECT COUNT(*) FROM cases WHERE state NOT IN ('closed','cancelled','closed_not_received','rejected')"
echo "wrk -t2 -c8 -d${secs}s on $(nproc) cores (wrk shares them with the server); $n generated cases"
lite="$work/queue.db"
bench_db sqlite "sqlite://$lite" 9201 \
  "cases_sql \"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n) SELECT i FROM s)\" | sqlite3 '$lite'" \
  "sqlite3 '$lite' \"$open_sql\"" \
  "sqlite3 -separator . '$lite' \"SELECT next_due_at, id FROM cases WHERE state NOT IN ('closed','cancelled','closed_not_received','rejected') ORDER BY next_due_at, id LIMIT 1 OFFSET ($open_sql) / 2\""
if [ -n "$pg" ]; then
  fresh_pg "$pg"
  bench_db postgresql "$pg" 9202 \
    "cases_sql \"generate_series(1, $n) AS g(i)\" | psql -q '$pg' && psql -q '$pg' -c 'ANALYZE'" \
    "psql -At '$pg' -c \"$open_sql\"" \
    "psql -At -F . '$pg' -c \"SELECT next_due_at, id FROM cases WHERE state NOT IN ('closed','cancelled','closed_not_received','rejected') ORDER BY next_due_at, id LIMIT 1 OFFSET ($open_sql) / 2\""
fi
