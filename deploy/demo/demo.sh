#!/usr/bin/env bash
# The demo stack: two fake providers, rebound-server configured to fail over
# from the first to the second, and sample calls made with the rebound CLI.
#   usage: deploy/demo/demo.sh BIN_DIR
# With a terminal attached the stack keeps running until Ctrl-C; otherwise
# it stops after the sample calls.
set -euo pipefail

BIN=${1:?usage: demo.sh BIN_DIR}
WORK=$(mktemp -d /tmp/rebound-demo.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits for a line matching $2 in file $1 and prints it.
wait_for_line() {
  for _ in $(seq 1 200); do
    if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "demo: timed out waiting for '$2' in $1" >&2
  cat "${1%.out}.err" >&2 || true
  return 1
}

start_fake() {  # name, default fault spec; runs in this shell so PIDS keeps the pid
  "$BIN/rebound-fakeprovider" --listen 127.0.0.1:0 --default "$2" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
  PIDS+=($!)
}
port_of() {  # name
  wait_for_line "$WORK/$1.out" "listening on" | sed -E 's/.*:([0-9]+)$/\1/'
}

# The primary rate-limits every call with a 30 s Retry-After; the
# secondary is healthy.
start_fake primary "status=429;retry_after=30"
start_fake secondary ""
PRIMARY_PORT=$(port_of primary)
SECONDARY_PORT=$(port_of secondary)

cat >"$WORK/rebound.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  metrics_listen: 127.0.0.1:0
model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:$PRIMARY_PORT
    access_key: demo-key-primary
    default: true
    retry_policy:
      fallback_models: [anthropic/claude-3-5-sonnet]
      default_strategy: different_provider
      on_status_codes:
        - codes: [429]
          strategy: different_provider
          max_attempts: 2
  - model: anthropic/claude-3-5-sonnet
    base_url: http://127.0.0.1:$SECONDARY_PORT
    access_key: demo-key-secondary
    provider_interface: openai   # the demo's fake speaks the OpenAI API
YAML

echo "==> config: $WORK/rebound.yaml"
"$BIN/rebound" check "$WORK/rebound.yaml"

"$BIN/rebound-server" --config "$WORK/rebound.yaml" >"$WORK/server.out" 2>"$WORK/server.err" &
PIDS+=($!)
READY=$(wait_for_line "$WORK/server.out" "rebound-server ready")
ADDR=$(echo "$READY" | sed -E 's/.*grpc=([^ ]+).*/\1/')
METRICS=$(echo "$READY" | sed -E 's/.*metrics=([^ ]+).*/\1/')
echo "==> $READY"

echo
echo "==> rebound complete --model openai/gpt-4o"
echo "    The primary answers 429 with Retry-After: 30; rebound fails over at once."
"$BIN/rebound" complete --addr "$ADDR" --model openai/gpt-4o
echo
echo "==> the same call again"
echo "    The primary is now blocked for 30 s: rebound goes straight to the fallback."
"$BIN/rebound" complete --addr "$ADDR" --model openai/gpt-4o 2>&1 >/dev/null | grep -E "attempt|served"
echo
echo "==> rebound stream --model openai/gpt-4o   (events arrive as the fallback produces them)"
"$BIN/rebound" stream --addr "$ADDR" --model openai/gpt-4o
echo
echo "==> a few metrics from http://$METRICS/metrics"
curl -s "http://$METRICS/metrics" 2>/dev/null | grep -E '^rebound_(requests|attempts|failovers)_total|^rebound_blocks_created_total' || true

if [ -t 0 ]; then
  echo
  echo "The stack keeps running: rebound-server on $ADDR, metrics on $METRICS."
  echo "Try: $BIN/rebound complete --addr $ADDR --model openai/gpt-4o"
  echo "Press Ctrl-C to stop."
  wait
fi
