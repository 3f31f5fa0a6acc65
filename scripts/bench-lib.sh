# What the desk benchmarks share (queue-bench.sh, search-bench.sh, reports-bench.sh): source it
# after setting `secs`; it builds the release binary and keeps a scratch folder that goes at
# exit, with every server the script started.
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --quiet --release --bin aftercare
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/aftercare
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
now=$(date +%s%6N)

# One line of figures: wrk -c8 for `secs` seconds after a 2-second warm-up, as the manager.
run() { # NAME URL
  local out
  wrk -t2 -c8 -d2s -H "Cookie: $cookie" "$2" >/dev/null
  out=$(wrk -t2 -c8 -d"${secs}s" --latency -H "Cookie: $cookie" "$2")
  printf '%-44s %9s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}

# The demo's registry, staff and cases on DB, then LOAD-COMMAND (the generated rows), then the
# server on PORT, with `cookie` the demo manager's session (who sees every seller).
demo_then_serve() { # DB PORT LOAD-COMMAND
  local db=$1 port=$2
  "$bin" --policies policies --db "$db" demo --bind "127.0.0.1:$port" --sweep-every 0 \
    --mail-dir "$work/mail-$port" --evidence-dir "$work/ev-$port" >"$work/$port.log" 2>&1 & local demo=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
  kill "$demo"; wait "$demo" 2>/dev/null || true
  eval "$3"
  "$bin" --policies policies --db "$db" serve --bind "127.0.0.1:$port" --sweep-every 0 \
    --mail-dir "$work/mail-$port" --evidence-dir "$work/ev-$port" >>"$work/$port.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
  cookie=$(curl -si -X POST -d "email=manager@demo.test&password=demo-aftercare-2026" \
    "http://127.0.0.1:$port/desk/sign-in" | grep -io 'aftercare_session=[0-9a-f]*')
}

# A scratch PostgreSQL database named by URL, dropped and created again.
fresh_pg() { # URL
  psql "${1%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${1##*/} WITH (FORCE)" -c "CREATE DATABASE ${1##*/}"
}
