#!/usr/bin/env bash
# Host benchmark (not a test): see bench/README.md. `make bench` syncs the collection first and calls this.
# Extra arguments go to bench_host.py, e.g. `bash bench/run.sh --sizes 100,1000 --virt-xml-sample 0`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$here")
VENV=${VENV:-$ROOT/.venv}
collections=${ANSIBLE_COLLECTIONS_PATH:-${BUILD:-$ROOT/build}}
if [[ ! -f $collections/ansible_collections/ttyfleet/serial_console/galaxy.yml ]]; then
  echo "bench: no synced collection under $collections; run 'make bench' (or 'make sync' first)" >&2
  exit 2
fi
exec "$VENV/bin/python" "$here/bench_host.py" --collections-path "$collections" "$@"
