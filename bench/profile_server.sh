#!/usr/bin/env bash
# Instructions rebound-server executes per unary call, counted by callgrind:
# unlike time, the count barely moves on a busy machine, so it is the number
# to compare before and after a change.
#
#   bench/profile_server.sh [BUILD_DIR] [CALLS]
#
# Starts rebound-fakeprovider and rebound-server (under valgrind --tool=callgrind,
# instrumentation off), sends 200 warm-up calls with h2load, switches
# instrumentation on, sends CALLS (default 2000) calls (1 KiB request, 2 KiB
# answer, 8 in flight), switches it off and prints Ir per call. The profile
# stays in $OUT (callgrind_annotate $OUT/callgrind.out shows where).
# Needs: valgrind, h2load (nghttp2-client), python3-protobuf, and the build's
# rebound-server, rebound-fakeprovider and rebound_python_stubs targets.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
CALLS=${2:-2000}
BIN=$BUILD/bin
OUT=${OUT:-$(mktemp -d /tmp/rebound-profile.XXXXXX)}
mkdir -p "$OUT"
cd "$OUT"

cleanup() { kill "${SERVER:-}" "${FAKE:-}" 2>/dev/null || true; }
trap cleanup EXIT

wait_for() {  # file pattern
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "profile_server: timed out waiting for '$2' in $1" >&2; exit 1
}

"$BIN/rebound-fakeprovider" --max_recorded 0 >fake.out 2>fake.err &
FAKE=$!
wait_for fake.out listening
FAKE_PORT=$(grep -o ':[0-9]*$' fake.out | tr -d :)
cat >config.yaml <<YAML
server:
  listen: 127.0.0.1:0
  metrics_listen: 127.0.0.1:0
model_providers:
  - model: openai/bench-model
    base_url: http://127.0.0.1:$FAKE_PORT
    access_key: bench-key
    default: true
YAML

# The request: a gRPC-framed CompletionRequest carrying a ~1 KiB chat body.
/usr/bin/python3 - "$BUILD/proto/python" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
from rebound.v1 import gateway_pb2
content = ("The quick brown fox jumps over the lazy dog. " * 30)[:954]
body = '{"model":"bench-model","messages":[{"role":"user","content":"%s"}]}' % content
req = gateway_pb2.CompletionRequest(model="openai/bench-model", body=body.encode())
req.headers.add(name="x-fake-fault", value="response_bytes=2048")
data = req.SerializeToString()
open("request.grpc", "wb").write(b"\0" + struct.pack(">I", len(data)) + data)
PY

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
  "$BIN/rebound-server" --config config.yaml --log-level warn >server.out 2>server.err &
SERVER=$!
wait_for server.out ready
GRPC=$(grep -o 'grpc=[^ ]*' server.out | cut -d= -f2)
METRICS=$(grep -o 'metrics=[^ ]*' server.out | cut -d= -f2)
h2() {
  h2load -n "$1" -c 1 -m 8 -d request.grpc -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://$GRPC/rebound.v1.Gateway/Complete" | grep '^requests:'
}
h2 200 >/dev/null
callgrind_control -i on "$SERVER" >/dev/null
h2 "$CALLS"
callgrind_control -i off "$SERVER" >/dev/null
OK=$(curl -s "http://$METRICS/metrics" |
  awk '/^rebound_requests_total\{/ && /outcome="ok"/ {s += $2} END {print s}')
NOT_OK=$(curl -s "http://$METRICS/metrics" |
  awk '/^rebound_requests_total\{/ && !/outcome="ok"/ {s += $2} END {print s + 0}')
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
if [ "$NOT_OK" != 0 ] || [ "$OK" != $((CALLS + 200)) ]; then
  echo "profile_server: expected $((CALLS + 200)) OK calls, got $OK OK and $NOT_OK not OK" >&2
  exit 1
fi
IR=$(callgrind_annotate "$OUT/callgrind.out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "rebound-server: $((IR / CALLS)) instructions per unary call ($CALLS calls; profile: $OUT/callgrind.out)"
