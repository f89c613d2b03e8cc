#!/usr/bin/env bash
# Checks of deploy/ that run without a container engine or a cluster:
#   - promtool on deploy/prometheus/prometheus.yml
#   - the Kubernetes manifests: valid YAML, kind/apiVersion/name, and their
#     cross-references (deploy_check.py k8s), and `rebound check` on the
#     rebound config embedded in the ConfigMap
#   - deploy/examples/multi-replica.yaml, its documented replica B and
#     deploy/examples/policy.yaml with `rebound check`, and
#     deploy/examples/openai-to-anthropic.yaml
#   - deploy/Dockerfile against deploy/run.sh and the built binaries' libraries
#
#   usage: deploy_test.sh SOURCE_DIR BIN_DIR
#
# Every check prints what it verified; a check that cannot run fails (none is
# skipped). Ends with "deploy_test: N passed, M failed" and exits non-zero on
# any failure.
set -uo pipefail

SRC=${1:?usage: deploy_test.sh SOURCE_DIR BIN_DIR}
BIN=${2:?usage: deploy_test.sh SOURCE_DIR BIN_DIR}
SRC=$(cd "$SRC" && pwd)
BIN=$(cd "$BIN" && pwd)
CHECK="$SRC/tests/integration/deploy_check.py"
WORK=$(mktemp -d /tmp/rebound-deploy-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# promtool is cached here between runs (see find_promtool).
TOOLS="$BIN/../deploy-tools"

# Debian's python3 has python3-yaml (deploy/run.sh installs it); a python3
# earlier on PATH (pyenv, a venv) may not.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3 || echo python3)

PASSED=0
FAILED=()

# run_check NAME COMMAND...: runs the command, shows its output indented and
# records the result.
run_check() {
  local name=$1
  shift
  echo "=== $name"
  local status=0
  "$@" >"$WORK/check.out" 2>&1 || status=$?
  sed 's/^/    /' "$WORK/check.out"
  if [ "$status" -eq 0 ]; then
    echo "PASS $name"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $name (exit $status)"
    FAILED+=("$name")
  fi
}

# rebound check FILE, with a placeholder for every $VAR / ${VAR} the file
# names: the provider keys come from Secrets at run time.
rebound_check() {
  local file=$1 vars=()
  for var in $(grep -oE '\$\{?[A-Za-z_][A-Za-z0-9_]*' "$file" | tr -d '${' | sort -u); do
    vars+=("$var=deploy-test-placeholder")
  done
  env "${vars[@]}" "$BIN/rebound" check "$file"
}

# Debian 12 ships promtool only in the `prometheus` package: 19 MB to
# download, 96 MB installed, and installing it starts a Prometheus server as
# a system service. Rather than install that on every test machine, this
# takes promtool out of the package (`apt-get download` + `dpkg-deb -x`,
# nothing installed, nothing started) and caches it in the build directory.
# A promtool on PATH or in $PROMTOOL is used first.
find_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then echo "$PROMTOOL"; return 0; fi
  if command -v promtool >/dev/null; then command -v promtool; return 0; fi
  local cached="$TOOLS/usr/bin/promtool"
  if [ ! -x "$cached" ]; then
    mkdir -p "$TOOLS" && rm -f "$TOOLS"/prometheus_*.deb
    (cd "$TOOLS" && apt-get download prometheus) >"$WORK/apt.log" 2>&1 ||
      { [ "$(id -u)" -eq 0 ] && apt-get update -qq >>"$WORK/apt.log" 2>&1 &&
        (cd "$TOOLS" && apt-get download prometheus) >>"$WORK/apt.log" 2>&1; } || {
      echo "cannot fetch Debian's prometheus package for promtool:" >&2
      cat "$WORK/apt.log" >&2
      echo "install it (apt-get install prometheus) or set PROMTOOL=/path/to/promtool" >&2
      return 1
    }
    dpkg-deb --fsys-tarfile "$TOOLS"/prometheus_*.deb | tar -x -C "$TOOLS" ./usr/bin/promtool ||
      return 1
    rm -f "$TOOLS"/prometheus_*.deb
  fi
  echo "$cached"
}

# promtool check config. Debian 12's promtool is built without Kubernetes
# service discovery ("field kubernetes_sd_configs not found"); with such a
# promtool, the file is checked as deploy_check.py rewrote it (each
# kubernetes_sd_configs swapped for an empty static_configs, everything else,
# relabel rules included, unchanged) and deploy_check.py checks the
# kubernetes_sd_configs entries and runs the relabelling on the manifests'
# pods. An upstream promtool checks the file as it is.
promtool_check() {
  local promtool
  promtool=$(find_promtool) || return 1
  "$promtool" --version | head -1
  local file="$SRC/deploy/prometheus/prometheus.yml"
  if "$promtool" check config "$file" >"$WORK/promtool.out" 2>&1; then
    cat "$WORK/promtool.out"
    return 0
  fi
  if ! grep -q "field kubernetes_sd_configs not found" "$WORK/promtool.out"; then
    cat "$WORK/promtool.out"
    return 1
  fi
  echo "this promtool has no Kubernetes discovery (Debian's build): checking the file with"
  echo "kubernetes_sd_configs swapped for static_configs; the 'prometheus.yml' check covers"
  echo "the kubernetes_sd_configs entries and the relabelling"
  "$PYTHON" "$CHECK" prometheus "$SRC" "$WORK/prometheus-no-k8s-sd.yml" >/dev/null &&
    "$promtool" check config "$WORK/prometheus-no-k8s-sd.yml"
}

# rebound check on every file deploy_check.py listed in DIR/configs.txt.
check_listed_configs() {
  local list=$1/configs.txt
  [ -s "$list" ] || { echo "no configs listed in $list"; return 1; }
  local status=0 path what
  while IFS=$'\t' read -r path what; do
    echo "-- $what"
    rebound_check "$path" || status=1
  done <"$list"
  return "$status"
}

if ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
  echo "deploy_test: $PYTHON cannot import yaml: install python3-yaml (deploy/run.sh does)"
  echo "deploy_test: 0 passed, 1 failed"
  exit 1
fi
if [ ! -x "$BIN/rebound" ]; then
  echo "deploy_test: $BIN/rebound is not built"
  echo "deploy_test: 0 passed, 1 failed"
  exit 1
fi

run_check "promtool check config deploy/prometheus/prometheus.yml" promtool_check
run_check "prometheus.yml: jobs, kubernetes_sd_configs, relabelling of the manifests' pods" \
  "$PYTHON" "$CHECK" prometheus "$SRC" "$WORK/prometheus-no-k8s-sd.yml"
run_check "deploy/k8s: YAML, kind/apiVersion, cross-references" \
  "$PYTHON" "$CHECK" k8s "$SRC" "$WORK/k8s"
run_check "deploy/k8s: rebound check on the ConfigMap's config" check_listed_configs "$WORK/k8s"
run_check "deploy/examples: replicas A and B, the policy's sections" \
  "$PYTHON" "$CHECK" multi-replica "$SRC" "$WORK/multi"
run_check "deploy/examples: rebound check on replicas A and B and the policy" \
  check_listed_configs "$WORK/multi"
run_check "deploy/examples/openai-to-anthropic.yaml: rebound check" \
  rebound_check "$SRC/deploy/examples/openai-to-anthropic.yaml"
run_check "deploy/Dockerfile: stages, packages, binaries, user, ports, context" \
  "$PYTHON" "$CHECK" dockerfile "$SRC"
run_check "deploy/Dockerfile: runtime packages exist and provide the binaries' libraries" \
  "$PYTHON" "$CHECK" runtime-libs "$SRC" "$BIN"

echo
echo "Not checked here: building the image (no container engine) and applying the"
echo "manifests to a cluster (no Kubernetes API server)."
for name in "${FAILED[@]}"; do echo "FAILED: $name"; done
echo "deploy_test: $PASSED passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]
