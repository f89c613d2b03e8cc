#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 and runs each for a bounded time.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all of them
# (config_loader json_scan model_splice rate_limit_headers sse translate http_request
# provider_error).
# FUZZ_BUILD_DIR (default build-fuzz) is the clang build tree. Each target
# starts from its seed corpus in tests/fuzz/corpus/<target>/ (read only) and
# keeps what it learns in $FUZZ_BUILD_DIR/fuzz-corpus/<target>/, so later runs
# continue from there. A crash, leak, timeout (> 5 s for one input), memory
# blow-up (> 2 GiB) or violated invariant leaves its input in
# $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/ and makes the script exit 1; after
# fixing the bug, copy the input into the seed corpus so the ctest replay
# (fuzz_corpus_<target>) guards against it from then on.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ_DIR="$ROOT/tests/fuzz"
BUILD_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config_loader json_scan model_splice rate_limit_headers sse translate http_request provider_error)

case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "seconds must be a positive integer, got '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac

echo "==> building the fuzz targets in $BUILD_DIR (clang-14, libFuzzer + ASan + UBSan)"
CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREBOUND_FUZZ=ON >/dev/null
ninja -C "$BUILD_DIR" fuzzers

# ASan's LeakSanitizer is on by default, so leaks fail the run too; UBSan
# reports abort (-fno-sanitize-recover=all) and libFuzzer keeps the input.

failed=()
summary=()
for target in "${TARGETS[@]}"; do
  binary="$BUILD_DIR/bin/fuzz/${target}_fuzzer"
  seeds="$FUZZ_DIR/corpus/$target"
  [ -x "$binary" ] && [ -d "$seeds" ] || { echo "unknown fuzz target: $target" >&2; exit 2; }
  work="$BUILD_DIR/fuzz-corpus/$target"
  artifacts="$BUILD_DIR/fuzz-artifacts/$target"
  log="$BUILD_DIR/fuzz-logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  # The config loader's seeds are whole configuration files.
  if [ "$target" = config_loader ]; then args+=(-max_len=16384); else args+=(-max_len=4096); fi
  [ -f "$FUZZ_DIR/dict/$target.dict" ] && args+=(-dict="$FUZZ_DIR/dict/$target.dict")
  echo "==> fuzzing $target for ${SECONDS_PER_TARGET}s (log: $log)"
  status=0
  "$binary" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  summary+=("$(printf '%-20s %12s execs %8s exec/s  cov %6s  ft %7s  %s' "$target" \
    "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "$([ $status -eq 0 ] && echo ok || echo FAILED)")")
  if [ $status -ne 0 ]; then
    failed+=("$target")
    grep -E 'ERROR|invariant violated|Test unit written|SUMMARY' "$log" | head -20 >&2 || true
  fi
done

echo "==> summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $BUILD_DIR/fuzz-artifacts/)" >&2
  exit 1
fi
