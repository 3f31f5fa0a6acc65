#!/usr/bin/env bash
# Reports at scale (issue 21): the demo's data plus N generated cases (default 1,000,000)
# opened over the last two years across the five sellers and four kinds, counted into
# `report_opened` as the write path counts them (the same GROUP BY as migration 15's backfill),
# and into `report_tallies` as the moves, refunds, timers and order lines count them: each case
# decided (two in three in the customer's favour), one target met or missed, a cause found
# (twelve SKUs, twenty-five causes), one case in three refunded, twenty units sold per case.
# Then wrk on the reports page (all six reports) and on CSVs over 104 weeks, as a manager who
# sees every seller and for one seller.
# On SQLite and (with a URL) PostgreSQL. Usage:
# scripts/reports-bench.sh [postgres://user:pass@host/db] [N] [SECONDS]
# The PostgreSQL database is dropped and created again: give a scratch one.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
n=${2:-1000000}
secs=${3:-10}
. scripts/bench-lib.sh
two_years=$((2 * 365 * 86400 * 1000000))

# The generated cases, in either dialect: $1 is the row source of 1..N as `i`.
cases_sql() {
  cat <<SQL
INSERT INTO cases (kind, state, policy_id, facts, opened_at, updated_at)
SELECT CASE i % 4 WHEN 0 THEN 'return' WHEN 1 THEN 'warranty_service' WHEN 2 THEN 'delivery_damage' ELSE 'paid_repair' END,
  'closed',
  CASE i % 5 WHEN 0 THEN 'imask' WHEN 1 THEN 'imkey' WHEN 2 THEN 'imiki' WHEN 3 THEN 'cryptki' ELSE 'maintenance' END,
  '{}', $now - CAST(i AS BIGINT) * 7919 % $two_years, $now
FROM $1;
DELETE FROM report_opened;
DELETE FROM report_tallies;
SQL
}

# The tallies of those cases; $1 and $2 turn an expression of microseconds into its week's
# Monday and its month, in the dialect's words.
tallies_sql() {
  local day=86400000000
  at_period() { echo "${1//X/$2}"; }
  cat <<SQL
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'decided', $(at_period "$1" "opened_at + 2 * $day"),
  CASE WHEN id % 3 = 0 THEN 'against' ELSE 'favour' END, id % 8, COUNT(*), 0
FROM cases WHERE opened_at < $now - 2 * $day GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'target', $(at_period "$1" "opened_at + $day"),
  CASE id % 4 WHEN 0 THEN 'arrive_by' WHEN 1 THEN 'quote_pay_by' WHEN 2 THEN 'inspect_by' ELSE 'repair_by' END
  || CASE WHEN id % 10 = 0 THEN ':missed' ELSE ':met' END, id % 8, COUNT(*), 0
FROM cases GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'cause', $(at_period "$2" "opened_at"),
  'SKU-' || CAST(id % 12 AS TEXT) || '|cause-' || CAST(id % 25 AS TEXT), id % 8, COUNT(*), 0
FROM cases GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'refund', $(at_period "$2" "opened_at + 5 * $day"),
  CASE policy_id WHEN 'cryptki' THEN 'EUR' WHEN 'maintenance' THEN 'USD' ELSE 'CNY' END,
  id % 8, COUNT(*), SUM(10000 + id % 5000)
FROM cases WHERE id % 3 = 0 GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'refund_days', $(at_period "$2" "opened_at + 5 * $day"), CAST(id % 40 AS TEXT),
  id % 8, COUNT(*), 0
FROM cases WHERE id % 3 = 0 GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'sku_cases', '', 'SKU-' || CAST(id % 12 AS TEXT), id % 8, COUNT(*), 0
FROM cases GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'sold', '', 'SKU-' || CAST(id % 12 AS TEXT), 0, 20 * COUNT(*), 0
FROM cases GROUP BY 1, 2, 3, 4, 5;
SQL
}
sqlite_week="date((X) / 1000000, 'unixepoch', 'weekday 0', '-6 days')"
sqlite_month="strftime('%Y-%m', (X) / 1000000, 'unixepoch')"
pg_week="to_char(date_trunc('week', to_timestamp((X) / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
pg_month="to_char(to_timestamp((X) / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM')"

bench_db() { # LABEL URL PORT LOAD-COMMAND COUNT-COMMAND
  local label=$1 db=$2 port=$3
  demo_then_serve "$db" "$port" "$4"
  local base="http://127.0.0.1:$port/desk/reports"
  local counted
  counted=$(curl -sf -H "Cookie: $cookie" "$base/opened.csv?weeks=104" | awk -F, 'NR > 1 {s += $3} END {print s}')
  echo "$label: $(eval "$5") cases, $counted of them opened in the last 104 weeks (the CSV's sum)"
  run "reports page, 104 weeks ($label)" "$base?weeks=104"
  run "reports page, 12 weeks, IMASK ($label)" "$base?weeks=12&seller=IMASK"
  run "CSV of cases opened, 104 weeks ($label)" "$base/opened.csv?weeks=104"
  run "CSV of refunds, 104 weeks ($label)" "$base/refunds.csv?weeks=104"
}

echo "wrk -t2 -c8 -d${secs}s on $(nproc) cores (wrk shares them with the server)"
lite="$work/reports.db"
backfill_sqlite="INSERT INTO report_opened (policy_id, week, kind, slot, opened)
  SELECT policy_id, date(opened_at / 1000000, 'unixepoch', 'weekday 0', '-6 days'), kind, id % 8, COUNT(*)
  FROM cases GROUP BY 1, 2, 3, 4;"
backfill_pg="INSERT INTO report_opened (policy_id, week, kind, slot, opened)
  SELECT policy_id, to_char(date_trunc('week', to_timestamp(opened_at / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), kind, id % 8, COUNT(*)
  FROM cases GROUP BY 1, 2, 3, 4;"
bench_db sqlite "sqlite://$lite" 9221 \
  "{ cases_sql \"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n) SELECT i FROM s)\"; echo \"\$backfill_sqlite\"; tallies_sql \"\$sqlite_week\" \"\$sqlite_month\"; } | sqlite3 '$lite'" \
  "sqlite3 '$lite' 'SELECT COUNT(*) FROM cases'"
if [ -n "$pg" ]; then
  fresh_pg "$pg"
  bench_db postgresql "$pg" 9222 \
    "{ cases_sql \"generate_series(1, $n) AS g(i)\"; echo \"\$backfill_pg\"; tallies_sql \"\$pg_week\" \"\$pg_month\"; } | psql -q -v ON_ERROR_STOP=1 '$pg' && psql -q '$pg' -c 'ANALYZE'" \
    "psql -At '$pg' -c 'SELECT COUNT(*) FROM cases'"
fi
