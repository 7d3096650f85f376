#!/usr/bin/env bash
# Offline checks of terraform/ (make tf-check; lakehouse_tests/terraform runs them too):
#   check.sh [all]               generated files current, terraform fmt -check, checkov
#   check.sh generated|fmt       one of them
#   check.sh checkov [ARGS...]   checkov only, extra ARGS passed on (e.g. -o json)
#   check.sh checkov-venv        only create/refresh the checkov venv
# checkov lives in its own venv (.venv-checkov: it pins a boto3 older than the project's),
# created once per machine from PyPI and reused while the pinned version matches.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_DIR="$ROOT/terraform"
PY="${LAKEHOUSE_PYTHON:-$ROOT/.venv/bin/python}"
CHECKOV_VERSION="3.3.30"
CHECKOV_VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
STAMP="$CHECKOV_VENV/.checkov-$CHECKOV_VERSION"

checkov_venv() {
  if [[ -f "$STAMP" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$CHECKOV_VENV")"
  # one installer at a time (parallel test workers, make -j)
  exec 9>"${TMPDIR:-/tmp}/checkov-venv-$(printf '%s' "$CHECKOV_VENV" | md5sum | cut -c1-12).lock"
  flock 9
  if [[ ! -f "$STAMP" ]]; then
    echo "checkov: creating $CHECKOV_VENV (checkov==$CHECKOV_VERSION, once per machine)" >&2
    rm -rf "$CHECKOV_VENV"
    local base_python="${CHECKOV_BASE_PYTHON:-$("$PY" -c 'import sys; print(sys._base_executable)')}"
    "$base_python" -m venv "$CHECKOV_VENV"
    local uv="$ROOT/.venv/bin/uv"
    if [[ -x "$uv" ]]; then
      "$uv" pip install -q --python "$CHECKOV_VENV/bin/python" "checkov==$CHECKOV_VERSION" >&2
    else
      "$CHECKOV_VENV/bin/python" -m pip install -q "checkov==$CHECKOV_VERSION" >&2
    fi
    # byte-compile once: with PYTHONDONTWRITEBYTECODE set, every run would recompile checkov
    "$CHECKOV_VENV/bin/python" -m compileall -q -j 0 "$CHECKOV_VENV/lib" >/dev/null 2>&1 || true
    touch "$STAMP"
  fi
  flock -u 9
}

run_checkov() {
  checkov_venv
  # offline: no policy download, no API key, no version check
  BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
    CHECKOV_PARALLELIZATION_TYPE="${CHECKOV_PARALLELIZATION_TYPE:-none}" \
    "$CHECKOV_VENV/bin/checkov" -d "$TF_DIR" --skip-download --framework terraform \
    --compact --quiet "$@"
}

case "${1:-all}" in
  generated) "$PY" -m lakehouse.aws.terraform_config generate --check ;;
  fmt) "$PY" -m lakehouse.aws.terraform_config fmt --check ;;
  checkov-venv) checkov_venv ;;
  checkov)
    shift
    run_checkov "$@"
    ;;
  all)
    "$PY" -m lakehouse.aws.terraform_config generate --check
    "$PY" -m lakehouse.aws.terraform_config fmt --check
    run_checkov
    echo "terraform checks passed"
    ;;
  *)
    echo "usage: $0 [all|generated|fmt|checkov [ARGS...]|checkov-venv]" >&2
    exit 2
    ;;
esac
