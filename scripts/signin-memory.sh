#!/usr/bin/env bash
# The server's memory under a burst of failed sign-ins: `aftercare serve` over a new SQLite
# database, trusting 127.0.0.1 as a proxy so that every try comes from another client and is
# checked (the worst case for the password hashing); its resident memory (VmRSS) before, the
# peak (VmHWM), right after, and 10 s after N failed sign-ins sent at once
# (crates/cli/examples/signin_flood.rs, loopback only); twice: as they come, then sending
# again after Retry-After each try answered 503 (the password checks' queue full), so that
# all N are checked. Usage:
#   scripts/signin-memory.sh [N] [BINARY]
# N defaults to 1000; BINARY to a build of this checkout (another build can be given to
# compare; one without --trusted-proxy is run without it). Both are built in release, or in
# the dev profile with AFTERCARE_PROFILE=dev (argon2 is optimised there too, see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
bin=${2:-}
target=${CARGO_TARGET_DIR:-target}
profile=${AFTERCARE_PROFILE:-release}
out=$([ "$profile" = dev ] && echo debug || echo "$profile")
if [ -z "$bin" ]; then
  cargo build --quiet --profile "$profile" --bin aftercare
  bin=$target/$out/aftercare
fi
cargo build --quiet --profile "$profile" -p aftercare-cli --example signin_flood
flood=$target/$out/examples/signin_flood
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
proxy=()
if "$bin" serve --help | grep -q -- --trusted-proxy; then proxy=(--trusted-proxy 127.0.0.1); fi
"$bin" --db "sqlite://$work/memory.db" --policies policies serve --bind 127.0.0.1:0 \
  --sweep-every 0 --mail-dir "$work/mail" --evidence-dir "$work/evidence" "${proxy[@]}" \
  >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do grep -q "is serving" "$work/out" 2>/dev/null && break; sleep 0.2; done
addr=$(sed -n 's|.*serving http://\([^/]*\)/.*|\1|p' "$work/out")
[ -n "$addr" ] || { echo "the server did not start:" >&2; cat "$work/log" >&2; exit 1; }
mb() { awk -v k="$1:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
curl -sf "http://$addr/readyz" >/dev/null
sleep 2
for mode in once retry; do
  before=$(mb VmRSS)
  "$flood" "$addr" "$n" "$mode"
  after=$(mb VmRSS)
  peak=$(mb VmHWM)
  threads=$(ls "/proc/$pid/task" | wc -l)
  sleep 10
  settled=$(mb VmRSS)
  echo "$(basename "$bin") ($mode): RSS before ${before} MB, peak so far ${peak} MB, right after ${after} MB, 10 s later ${settled} MB; ${threads} threads after the burst"
done
