#!/usr/bin/env bash
# Print the path of a venv that holds exactly tests/requirements/NAME.txt, creating or refreshing it first.
# The heavy tools (galaxy-importer, antsibull-docs + Sphinx, ansible-builder, the ansible-core matrix) live in
# venvs of their own under TOOLS (default /var/cache/ttyfleet/tools), so the project's .venv stays small and a bare
# machine gets them on first use. A venv is rebuilt when its requirements file changes.
#   usage: scripts/tool-venv.sh NAME        e.g. scripts/tool-venv.sh docs  ->  /var/cache/ttyfleet/tools/docs
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: $0 NAME (a file tests/requirements/NAME.txt)}
[[ $name =~ ^[a-z0-9][a-z0-9.-]*$ ]] || { echo "tool-venv: NAME must match [a-z0-9][a-z0-9.-]*, got an invalid name" >&2; exit 2; }
req=$here/tests/requirements/$name.txt
[[ -f $req ]] || { echo "tool-venv: no $req" >&2; exit 2; }
TOOLS=${TOOLS:-/var/cache/ttyfleet/tools}
venv=$TOOLS/$name
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x $venv/bin/python && -f $venv/.requirements.sha && $(cat "$venv/.requirements.sha") == "$want" ]]; then
  echo "$venv"; exit 0
fi
mkdir -p "$TOOLS"
# one builder at a time per venv (two make targets may ask for the same tool)
exec 9>"$TOOLS/.$name.lock"
flock 9
if ! [[ -x $venv/bin/python && -f $venv/.requirements.sha && $(cat "$venv/.requirements.sha") == "$want" ]]; then
  printf '[tool-venv] %s: installing %s into %s (first use; about a minute)\n' "$name" "$(grep -v '^#' "$req" | tr '\n' ' ')" "$venv" >&2
  start=$SECONDS
  rm -rf "$venv"
  real=$(${PYTHON:-python3} -c 'import sys; print(sys.executable)') # not a pyenv shim
  "$real" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" 2> >(grep -v "is ignored: it is neither" >&2) >&2
  echo "$want" >"$venv/.requirements.sha"
  printf '[tool-venv] %s: ready in %d s\n' "$name" $((SECONDS - start)) >&2
fi
echo "$venv"
