#!/usr/bin/env bash
# What-if at scale (issue 20): the demo's recorded IMASK decisions copied until there are N
# (default 1,000,000), on SQLite and (with a URL) PostgreSQL, then `aftercare policy simulate`
# of an IMASK draft that denies paid repair, timed, with the most memory it held. The copies
# keep the decisions' facts, moments and policy hashes; their stored summaries are left empty,
# as simulating never reads them. Each database is simulated RUNS times (default 5): this
# machine is shared, and single runs spread by a third. Usage:
# scripts/simulate-bench.sh [postgres://user:pass@host/db] [N]
# The PostgreSQL database is dropped and created again: give a scratch one. KEEP=FILE keeps a
# copy of the SQLite database there (to profile against). The memory figure needs GNU time
# (Debian's `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
n=${2:-1000000}
cargo build --quiet --release --bin aftercare
bin=${CARGO_TARGET_DIR:-target}/release/aftercare
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
sed -e 's/^version = "1.0.0"/version = "1.1.0-draft"/' \
  -e '/^id = "guarantee-paid-repair"/,/^when/ s/^allow = \["paid_repair"\]/deny = ["paid_repair"]/' \
  policies/imask.toml >"$work/imask.toml"
seed() { # DB URL: the demo's data, its server stopped once ready
  "$bin" --policies policies --db "$1" demo --bind 127.0.0.1:9401 --sweep-every 0 \
    --mail-dir "$work/mail" --evidence-dir "$work/ev" >"$work/demo.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:9401/readyz >/dev/null && break; sleep 0.5; done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
copy_sql="INSERT INTO decisions (case_id, decided_at, policy_id, policy_version, policy_hash, law_hashes, facts, summary)
  SELECT case_id, decided_at, policy_id, policy_version, policy_hash, law_hashes, facts, '{}'"
simulate() { # LABEL DB URL: RUNS runs (default 5), each timed; the fastest and the median
  local times=() cpus=() out mem=0 t m u
  for _ in $(seq 1 "${RUNS:-5}"); do
    if [ -x /usr/bin/time ]; then
      out=$({ /usr/bin/time -f "%e %M %U" "$bin" --policies policies --db "$2" \
        policy simulate "$work/imask.toml" >"$work/out.txt"; } 2>&1 | tail -1)
      read -r t m u <<<"$out"
      [ "$m" -gt "$mem" ] && mem=$m
      cpus+=("$u")
    else
      local TIMEFORMAT='%R'
      t=$({ time "$bin" --policies policies --db "$2" policy simulate "$work/imask.toml" >"$work/out.txt"; } 2>&1 | tail -1)
    fi
    times+=("$t")
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
  printf '%-12s %s\n  runs: %s s; fastest %s s, median %s s; user CPU, median %s s; at most %s KiB resident\n' "$1" \
    "$(head -1 "$work/out.txt")" "${times[*]}" "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" \
    "$(median "${times[@]}")" "$( [ ${#cpus[@]} -gt 0 ] && median "${cpus[@]}" || echo ?)" "$mem"
}
echo "policy simulate on $n recorded decisions ($(nproc) cores)"
seed "sqlite://$work/sim.db"
python3 - "$work/sim.db" "$n" "$copy_sql" <<'PY'
import sqlite3, sys
db, n, copy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
have = c.execute("SELECT COUNT(*) FROM decisions WHERE policy_id = 'imask'").fetchone()[0]
while have < n:  # doubling: the copies are copied in turn
    have += c.execute(copy + " FROM decisions WHERE policy_id = 'imask' LIMIT ?", (n - have,)).rowcount
c.commit()
PY
simulate sqlite "sqlite://$work/sim.db"
if [ -n "${KEEP:-}" ]; then cp "$work/sim.db" "$KEEP"; echo "kept the SQLite database at $KEEP"; fi
if [ -n "$pg" ]; then
  admin=${pg%/*}/postgres
  name=${pg##*/}
  psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
  seed "$pg"
  have=$(psql "$pg" -Atqc "SELECT COUNT(*) FROM decisions WHERE policy_id = 'imask'")
  psql "$pg" -qc "$copy_sql FROM decisions, generate_series(1, ($n + $have - 1) / $have) WHERE policy_id = 'imask' LIMIT $n - $have" -c "VACUUM ANALYZE decisions"
  simulate postgresql "$pg"
fi
