#!/usr/bin/env bash
# The demo stack: two fake providers, a control plane, two rebound-server
# replicas configured to fail over from the first provider to the second, and
# sample calls made with the rebound CLI: an OpenAI-shaped call served by an
# Anthropic-API model (translated both ways, as
# deploy/examples/openai-to-anthropic.yaml configures it) and the reverse,
# and a Retry-After block taken on one replica honoured by the other.
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
# secondary is healthy. The fakes answer each path in its API's shape
# (/v1/chat/completions as OpenAI, /v1/messages as Anthropic).
start_fake primary "status=429;retry_after=30"
start_fake secondary ""
PRIMARY_PORT=$(port_of primary)
SECONDARY_PORT=$(port_of secondary)

# A control plane shares blocks between the two replicas below. The
# replicas' token opens Sync only; the operator's (the rebound CLI's) opens
# the rest: a replica's token cannot push a policy to the fleet.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/replica-token"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/operator-token"
mkdir -p "$WORK/cp-state"
"$BIN/rebound-controlplane" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --state-dir "$WORK/cp-state" --replica-token-file "$WORK/replica-token" \
  --operator-token-file "$WORK/operator-token" >"$WORK/cp.out" 2>"$WORK/cp.err" &
PIDS+=($!)
CP_READY=$(wait_for_line "$WORK/cp.out" "rebound-controlplane ready")
CP_ADDR=$(echo "$CP_READY" | sed -E 's/.*grpc=([^ ]+).*/\1/')
echo "==> $CP_READY"

write_config() {  # replica id
  cat >"$WORK/$1.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  metrics_listen: 127.0.0.1:0
  http_listen: 127.0.0.1:0
control_plane:
  addresses: [$CP_ADDR]
  replica_id: $1
  token_file: $WORK/replica-token
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
  - model: anthropic/claude-3-5-sonnet   # the Anthropic Messages API: translated
    base_url: http://127.0.0.1:$SECONDARY_PORT
    access_key: demo-key-secondary
  # The reverse pair: an Anthropic-API primary, an OpenAI-API fallback.
  - model: anthropic/claude-3-haiku
    base_url: http://127.0.0.1:$PRIMARY_PORT
    access_key: demo-key-primary
    retry_policy:
      fallback_models: [openai/gpt-4o-mini]
      on_status_codes:
        - codes: [429]
          strategy: different_provider
          max_attempts: 2
  - model: openai/gpt-4o-mini
    base_url: http://127.0.0.1:$SECONDARY_PORT
    access_key: demo-key-secondary
YAML
}

start_replica() {  # replica id
  write_config "$1"
  "$BIN/rebound-server" --config "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  PIDS+=($!)
}

write_config replica-a
echo "==> config: $WORK/replica-a.yaml"
"$BIN/rebound" check "$WORK/replica-a.yaml"
start_replica replica-a
start_replica replica-b
READY_A=$(wait_for_line "$WORK/replica-a.out" "rebound-server ready")
READY_B=$(wait_for_line "$WORK/replica-b.out" "rebound-server ready")
ADDR_A=$(echo "$READY_A" | sed -E 's/.*grpc=([^ ]+).*/\1/')
ADDR_B=$(echo "$READY_B" | sed -E 's/.*grpc=([^ ]+).*/\1/')
METRICS_B=$(echo "$READY_B" | sed -E 's/.*metrics=([^ ]+).*/\1/')
HTTP_B=$(echo "$READY_B" | sed -E 's/.*http=([^ ]+).*/\1/')
echo "==> replica-a: $READY_A"
echo "==> replica-b: $READY_B"
# Both replicas connect to the control plane before the first call.
for _ in $(seq 1 100); do
  [ "$("$BIN/rebound" state --cp-addr "$CP_ADDR" --token-file "$WORK/operator-token" 2>/dev/null |
        grep -c ' yes ')" -ge 2 ] && break
  sleep 0.05
done

echo
echo "==> replica-a: rebound complete --model openai/gpt-4o"
echo "    The primary answers 429 with Retry-After: 30; rebound fails over at once to"
echo "    anthropic/claude-3-5-sonnet, which speaks the Anthropic Messages API: the request"
echo "    is translated, and the answer comes back as the chat.completion the caller asked for."
"$BIN/rebound" complete --addr "$ADDR_A" --model openai/gpt-4o
echo
echo "==> the control plane now holds replica-a's block"
"$BIN/rebound" state --cp-addr "$CP_ADDR" --token-file "$WORK/operator-token"
echo
echo "==> replica-b: the same call"
echo "    replica-b learned the block from the control plane: it never calls the primary."
"$BIN/rebound" complete --addr "$ADDR_B" --model openai/gpt-4o 2>&1 >/dev/null | grep -E "attempt|served"
echo
echo "==> replica-b: rebound stream --model openai/gpt-4o   (events arrive as the fallback produces them)"
echo "    Anthropic's message_start / content_block_delta / message_stop events, translated"
echo "    one by one into chat.completion.chunk events and [DONE]."
"$BIN/rebound" stream --addr "$ADDR_B" --model openai/gpt-4o
echo
echo "==> replica-a: rebound complete --model anthropic/claude-3-haiku   (the reverse)"
echo "    An Anthropic-shaped call (path /v1/messages) fails over to openai/gpt-4o-mini and"
echo "    gets an Anthropic \"message\" back."
"$BIN/rebound" complete --addr "$ADDR_A" --model anthropic/claude-3-haiku
echo
echo "==> replica-b's HTTP front door: plain curl, as any OpenAI SDK would call it"
echo "    curl http://$HTTP_B/v1/chat/completions -d '{\"model\":\"gpt-4o\",...}'"
curl -s -i "http://$HTTP_B/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}' |
  grep -iE '^(HTTP/|x-rebound-|\{)' || true
echo
echo "==> a few metrics from replica-b (http://$METRICS_B/metrics)"
curl -s "http://$METRICS_B/metrics" 2>/dev/null |
  grep -E '^rebound_(requests|attempts|translations)_total|^rebound_controlplane_(blocks_received_total|propagation_seconds_(sum|count))' || true

if [ -t 0 ]; then
  echo
  echo "The stack keeps running: replica-a on $ADDR_A, replica-b on $ADDR_B, control plane on $CP_ADDR."
  echo "Try: $BIN/rebound complete --addr $ADDR_B --model openai/gpt-4o"
  echo "     $BIN/rebound state --cp-addr $CP_ADDR --token-file $WORK/operator-token"
  echo "Press Ctrl-C to stop."
  wait
fi
