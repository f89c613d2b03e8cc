#!/usr/bin/env bash
# rebound's two set-up commands (see README.md):
#
#   deploy/run.sh demo   install missing Debian packages, build, start the demo
#                        stack (fake providers + rebound-server) and make calls
#   deploy/run.sh test   install missing Debian packages, build, run every test
#                        through ctest
#   deploy/run.sh fuzz [SECONDS] [TARGET...]
#                        build the libFuzzer targets with clang-14 (in
#                        build-fuzz/) and run each for SECONDS (default 60);
#                        fails when one finds a problem (tests/fuzz/)
#   deploy/run.sh sanitize [address,undefined|thread]
#                        the same with AddressSanitizer + UndefinedBehaviorSanitizer
#                        (the default; in build-asan/) or ThreadSanitizer (in
#                        build-tsan/); runtime options and suppressions: tests/sanitizers/
#
# Both work on a fresh Debian 12 machine as root (or with sudo).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR_GIVEN=${BUILD_DIR:-}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev prometheus-cpp-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev rapidjson-dev libgoogle-perftools-dev
  libssl-dev python3 python3-grpcio python3-protobuf python3-yaml python3-h2 curl openssl
)
# Only for `fuzz`: clang and its libFuzzer runtime (tests/fuzz/).
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

install_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The official vendor SDKs that tests/sdk parses translated answers with
# (npm registry, versions pinned by tests/sdk/package-lock.json). Node 20 is
# expected on the machine; Debian's nodejs and npm are installed otherwise.
install_sdks() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 18 ]; then
    echo "rebound: tests/sdk needs Node 18 or later, found $(node --version)" >&2
    exit 1
  fi
  # Always: npm ci installs exactly the lock file's versions, so a bumped
  # lock never leaves stale SDKs behind (about 10 s).
  echo "==> installing the vendor SDKs for tests/sdk"
  npm ci --prefix "$ROOT/tests/sdk" --no-audit --no-fund --loglevel=error
}

# Extra cmake arguments (the sanitize command's -DREBOUND_SANITIZE=...) follow.
build() {
  echo "==> building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  ninja -C "$BUILD_DIR"
}

run_tests() {
  echo "==> running the test suite"
  ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 "$@"
}

case "${1:-}" in
  demo)
    install_packages
    build
    exec "$ROOT/deploy/demo/demo.sh" "$BUILD_DIR/bin"
    ;;
  test)
    shift
    install_packages
    install_sdks
    build
    run_tests "$@"
    ;;
  sanitize)
    shift
    sanitizers=address,undefined
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then sanitizers=$1; shift; fi
    case "$sanitizers" in
      address,undefined) default_dir=$ROOT/build-asan ;;
      thread) default_dir=$ROOT/build-tsan ;;
      *)
        echo "usage: $0 sanitize [address,undefined|thread] [ctest arguments]" >&2
        exit 2
        ;;
    esac
    BUILD_DIR=${BUILD_DIR_GIVEN:-$default_dir}
    install_packages
    install_sdks
    build -DREBOUND_SANITIZE="$sanitizers"
    run_tests "$@"
    ;;
  fuzz)
    shift
    PACKAGES+=("${FUZZ_PACKAGES[@]}")
    install_packages
    FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz} exec "$ROOT/tests/fuzz/run_fuzzers.sh" "$@"
    ;;
  *)
    echo "usage: $0 demo|test|sanitize [address,undefined|thread]|fuzz [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
