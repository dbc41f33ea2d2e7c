#!/usr/bin/env bash
# Proves that the plugin template (plugin-sdk/template) works the way authors use it: copied out
# of this repository, depending on slog-plugin-sdk by git URL and tag. It
#
#  1. makes a git repository of this checkout (its files as they are now, committed or not) and
#     tags it plugin-sdk-v<version of plugin-sdk/Cargo.toml>;
#  2. copies the template to a temporary directory and points its SDK dependency at that
#     repository (file:// URL, same tag);
#  3. runs the template's own ci.sh there: format, clippy, host tests, wasm32-wasip2 build and
#     `slog plugin check`.
#
#   scripts/check-plugin-template.sh                    slog from $CARGO_TARGET_DIR/debug/slog
#   SLOG_BIN=path/to/slog scripts/check-plugin-template.sh
#
# The template builds in $CARGO_TARGET_DIR/plugin-template/target.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
slog="${SLOG_BIN:-$CARGO_TARGET_DIR/debug/slog}"
if [ ! -x "$slog" ]; then
  echo "check-plugin-template: no slog binary at $slog (cargo build --bin slog, or set SLOG_BIN)" >&2
  exit 1
fi
slog=$(realpath "$slog")

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' plugin-sdk/Cargo.toml | head -n 1)
tag="plugin-sdk-v$version"
if ! grep -q "^slog-plugin-sdk = { git = \"[^\"]*\", tag = \"$tag\" }" plugin-sdk/template/Cargo.toml; then
  echo "check-plugin-template: plugin-sdk/template/Cargo.toml must depend on the SDK's current tag:" >&2
  echo "  slog-plugin-sdk = { git = \"...\", tag = \"$tag\" }" >&2
  exit 1
fi

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
base="$CARGO_TARGET_DIR/plugin-template"
mkdir -p "$base"

# 1. The SDK's repository. Rebuilt on every run, at a fixed path and with a fixed author and
# date: unchanged files give the same URL and commit, so cargo's git cache does not grow.
repo="$base/slog-git"
rm -rf "$repo"
mkdir -p "$repo"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi # skip deleted tracked files
    done \
  | tar --null -T - -cf - | tar -C "$repo" -xf -
export GIT_AUTHOR_NAME=slog GIT_AUTHOR_EMAIL=slog@localhost GIT_AUTHOR_DATE="2000-01-01T00:00:00Z"
export GIT_COMMITTER_NAME=slog GIT_COMMITTER_EMAIL=slog@localhost GIT_COMMITTER_DATE="2000-01-01T00:00:00Z"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c commit.gpgsign=false commit -q -m "slog at the checked revision"
git -C "$repo" -c tag.gpgsign=false tag "$tag"
commit=$(git -C "$repo" rev-parse HEAD)
echo "SDK repository: file://$repo, tag $tag at $commit"

# 2. The template, outside the repository, with its git URL pointed at that repository.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$repo/plugin-sdk/template" "$work/plugin"
sed -i "s|^slog-plugin-sdk = { git = \"[^\"]*\"|slog-plugin-sdk = { git = \"file://$repo\"|" \
  "$work/plugin/Cargo.toml"
grep -q "git = \"file://$repo\", tag = \"$tag\"" "$work/plugin/Cargo.toml"

# 3. The template's CI.
CARGO_TARGET_DIR="$base/target" SLOG_BIN="$slog" bash "$work/plugin/ci.sh"

# The SDK came from the tag, not from a path.
if ! grep -q "source = \"git+file://$repo?tag=$tag#$commit\"" "$work/plugin/Cargo.lock"; then
  echo "check-plugin-template: the template did not resolve slog-plugin-sdk from $tag:" >&2
  grep -A2 'name = "slog-plugin-sdk"' "$work/plugin/Cargo.lock" >&2 || true
  exit 1
fi
echo
echo "plugin template: OK (slog-plugin-sdk $tag, checked by $("$slog" --version))"
