#!/usr/bin/env bash
# Installs what the Sensors SDK drivers in tests/sdk need, and nothing twice:
#  - Node.js and npm from Debian (apt-get), only when `node` or `npm` is missing;
#  - tests/sdk/node_modules (sa-sdk-node, sa-sdk-javascript, jsdom) with `npm ci`, only when
#    node_modules is missing or older than package-lock.json;
#  - a Python venv at ${SLOG_SDK_VENV:-$HOME/.cache/slog-sdk-venv} holding the pinned
#    sensorsanalyticssdk from tests/sdk/requirements.txt, only when that version is not there.
# A second run takes well under a second. Prints the venv's python path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK_DIR=tests/sdk
VENV="${SLOG_SDK_VENV:-$HOME/.cache/slog-sdk-venv}"
step() { printf '== %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  step "installing nodejs and npm from Debian"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "install-sdk-deps: node $(node --version) is too old: jsdom 24 needs Node.js 18 or later" >&2
  exit 1
fi

if [ ! -d "$SDK_DIR/node_modules" ] || [ "$SDK_DIR/package-lock.json" -nt "$SDK_DIR/node_modules" ]; then
  step "npm ci in $SDK_DIR"
  (cd "$SDK_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$SDK_DIR/node_modules"
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "creating the venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! python3 -m venv "$VENV"; then
    rm -rf "$VENV"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
    python3 -m venv "$VENV"
  fi
fi
# requirements.txt pins with ==; install only when an installed version differs.
missing=0
while IFS='=' read -r name _ version; do
  [ -n "$name" ] || continue
  have=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)
  [ "$have" = "$version" ] || missing=1
done < <(grep -v '^\s*#' "$SDK_DIR/requirements.txt" | sed 's/\s//g')
if [ "$missing" = 1 ]; then
  step "pip install -r $SDK_DIR/requirements.txt into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SDK_DIR/requirements.txt"
fi

echo "$VENV/bin/python"
