#!/usr/bin/env bash
# Load test of the running release binary over HTTPS on loopback (issue 3, docs/performance.md).
# Needs: release builds (cargo build --release -p gatehouse-server; the same with
# -p gatehouse-core --examples for the signing ceiling),
# wrk (apt-get install wrk), python3 and /usr/bin/time.
# Usage: [ROUNDS=3] [ONLY_TOKEN=1] bench/load.sh [seconds per endpoint] [connections]
# Measures both ceilings in the same run (ES256 signatures/s, a constant-JSON HTTPS endpoint)
# and prints the token endpoint against the issue's target, 50 % of the lower ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
ROUNDS=${ROUNDS:-3}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/gatehouse}
SIGN_RATE=${SIGN_RATE:-${CARGO_TARGET_DIR:-target}/release/examples/sign_rate}
DIR=$(mktemp -d)
export GATEHOUSE_DATA_DIR=$DIR GATEHOUSE_HTTPS_ADDR=127.0.0.1:9443 GATEHOUSE_HTTP_ADDR="" GATEHOUSE_LOG_LEVEL=warn
# All load comes from one address: the per-IP token limit (A4) stays on, set out of reach.
export GATEHOUSE_TOKEN_REQUESTS_PER_SECOND=10000000
export GATEHOUSE_PUBLIC_URL=https://localhost:9443
BASE=https://localhost:9443
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" tenant create bench --json >/dev/null
CREDS=$("$BIN" client create --tenant bench --name bench --type confidential --grant client_credentials --scope "api" --json)
ID=$(printf '%s' "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_id"])')
SECRET=$(printf '%s' "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_secret"])')
AUTH=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)

"$BIN" serve 2>"$DIR/serve.log" &
SERVER=$!
for _ in $(seq 1 100); do curl -skf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sk -u "$ID:$SECRET" -d grant_type=client_credentials "$BASE/tenants/bench/token" | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')

# Besides wrk's figures, CPU time per request of the server (by thread) and of wrk itself:
# on a shared 2-core box these are steadier than requests/s.
run() {
  local name=$1; shift
  echo "== $name"
  bench/cpu.py snapshot "$SERVER" >"$DIR/cpu0.json"
  /usr/bin/time -f "%U %S" -o "$DIR/wrk.time" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" >"$DIR/wrk.out"
  bench/cpu.py snapshot "$SERVER" >"$DIR/cpu1.json"
  grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors" "$DIR/wrk.out"
  RATE=$(grep -oE "^Requests/sec: +[0-9.]+" "$DIR/wrk.out" | grep -oE "[0-9.]+$")
  local n
  n=$(grep -oE "^ +[0-9]+ requests in" "$DIR/wrk.out" | grep -oE "[0-9]+")
  bench/cpu.py report "$DIR/cpu0.json" "$DIR/cpu1.json" "$n"
  awk -v n="$n" '{ printf "   wrk CPU per request: %.1f µs\n", ($1 + $2) * 1e6 / n }' "$DIR/wrk.time"
}
SIGNS=""
if [ -z "${ONLY_TOKEN:-}" ] && [ -x "$SIGN_RATE" ]; then
  echo "== ES256 signing ceiling"
  SIGNS=$("$SIGN_RATE" ES256 5 | tee /dev/stderr | grep -oE "^[0-9]+")
fi
# The box's speed drifts (other tenants of the host), so the endpoints are measured in rounds,
# each against the ceiling of its own round, and the summary takes medians of those ratios.
: >"$DIR/rates"
[ -n "${ONLY_TOKEN:-}" ] || wrk -t2 -c"$CONNS" -d2s "$BASE/healthz" >/dev/null # warm-up
for round in $(seq 1 "$ROUNDS"); do
  if [ -z "${ONLY_TOKEN:-}" ]; then
    run "round $round: https ceiling, GET /healthz (constant JSON)" "$BASE/healthz"
    echo "$round ceiling $RATE" >>"$DIR/rates"
    run "round $round: discovery" "$BASE/tenants/bench/.well-known/openid-configuration"
    echo "$round discovery $RATE" >>"$DIR/rates"
    run "round $round: jwks" "$BASE/tenants/bench/jwks"
    echo "$round jwks $RATE" >>"$DIR/rates"
  fi
  BODY="grant_type=client_credentials" AUTH=$AUTH run "round $round: token (client_credentials)" \
    -s bench/post.lua "$BASE/tenants/bench/token"
  echo "$round token $RATE" >>"$DIR/rates"
  BODY="token=$TOKEN" AUTH=$AUTH run "round $round: introspection" -s bench/post.lua "$BASE/tenants/bench/introspect"
  echo "$round introspection $RATE" >>"$DIR/rates"
done
python3 - "$DIR/rates" "${SIGNS:-0}" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    r, name, rate = line.split()
    rates.setdefault(int(r), {})[name] = float(rate)
signs = float(sys.argv[2])
print("== summary (median over rounds)")
for name in ("ceiling", "discovery", "jwks", "token", "introspection"):
    values = [v[name] for v in rates.values() if name in v]
    if values:
        print(f"   {name:13s} {statistics.median(values):9.0f} req/s  (rounds: {', '.join(f'{x:.0f}' for x in values)})")
rounds = [v for v in rates.values() if "ceiling" in v]
for name in ("discovery", "jwks"):
    ratios = [v[name] / v["ceiling"] for v in rounds]
    if ratios:
        print(f"   {name}: {100 * statistics.median(ratios):.0f} % of its round's ceiling (target 80 %)")
if rounds and signs:
    ratios = [v["token"] / (min(signs, v["ceiling"]) / 2) for v in rounds]
    print(f"   token: {100 * statistics.median(ratios):.0f} % of the target, 50 % of min({signs:.0f} signatures/s,"
          f" its round's ceiling)")
PY
"$BIN" audit verify
