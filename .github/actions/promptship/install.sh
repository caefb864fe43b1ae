#!/usr/bin/env bash
# Install one exact promptship and put a `promptship` command in BIN.
#
#   install.sh --source DIR --bin BIN              # DIR: a commit of the tool repository, extracted
#   install.sh --wheel URL --sha256 HEX --bin BIN  # a built wheel, checked against its hash
#
# Dependencies come from requirements.txt beside this script, every file pinned by
# its sha256 (pip --require-hashes, no dependency resolution), into the interpreter
# that `python` names (setup-python's). Nothing is taken from PyPI by name alone.
#
# The checkout under test is never on an import path: this script moves to a
# folder outside it before any interpreter starts, and every interpreter runs with
# -P (no current directory on sys.path), so a pip/__main__.py or a sitecustomize.py
# committed in a pull request is never imported. See docs/pipelines.md, "The pinned
# tool install".
set -euo pipefail

source_dir="" wheel="" sha256="" bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_dir=$2; shift 2 ;;
    --wheel) wheel=$2; shift 2 ;;
    --sha256) sha256=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ] || { [ -z "$source_dir" ] && [ -z "$wheel" ]; } || { [ -n "$source_dir" ] && [ -n "$wheel" ]; }; then
  echo "usage: install.sh (--source DIR | --wheel URL --sha256 HEX) --bin BIN" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
cd "$work"  # outside any checkout, before any interpreter starts

pip=(python -P -m pip install --quiet --no-input --disable-pip-version-check --require-hashes --no-deps)
"${pip[@]}" -r "$here/requirements.txt"
interpreter=$(python -P -c 'import sys; print(sys.executable)')
mkdir -p "$bin"
if [ -n "$source_dir" ]; then
  tools=$(cd "$source_dir/tools" && pwd)
  test -f "$tools/promptship/__init__.py" || { echo "install.sh: no promptship in $source_dir/tools" >&2; exit 2; }
  printf '#!/bin/sh\nPYTHONPATH=%s exec %s -P -m promptship "$@"\n' "'$tools'" "'$interpreter'" > "$bin/promptship"
else
  case "$sha256" in
    *[!0-9a-f]* | "") echo "install.sh: --sha256 must be the wheel's sha256 in hex" >&2; exit 2 ;;
  esac
  [ ${#sha256} -eq 64 ] || { echo "install.sh: --sha256 must be 64 hex digits" >&2; exit 2; }
  printf 'promptship @ %s --hash=sha256:%s\n' "$wheel" "$sha256" > "$work/wheel.txt"
  "${pip[@]}" -r "$work/wheel.txt"
  printf '#!/bin/sh\nexec %s -P -m promptship "$@"\n' "'$interpreter'" > "$bin/promptship"
fi
chmod 755 "$bin/promptship"
"$bin/promptship" --version
rm -rf "$work"
