# shellcheck shell=bash disable=SC2034  # sets variables for the script that sources it
# Sourced by the steps that run a heavy tool on the synced collection (tests/galaxy/importer.sh, tests/docs/docs.sh,
# tests/ee/ee.sh): STEP=<name> before sourcing. Sets ROOT, BUILD, COLL, VENV, log, fail, and tools (the step's venv
# from scripts/tool-venv.sh, named like STEP); fails at once without a synced collection.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:?BUILD= the build dir (make $STEP sets it)}
COLL=$BUILD/ansible_collections/ttyfleet/serial_console
VENV=${VENV:-$ROOT/.venv}
log() { printf '[%s] %s\n' "$STEP" "$*" >&2; }
fail() { printf '[%s] FAIL: %s\n' "$STEP" "$*" >&2; exit 1; }
[[ -f $COLL/galaxy.yml ]] || fail "no synced collection at $COLL (run: make sync BUILD=$BUILD)"
tools=$(bash "$ROOT/scripts/tool-venv.sh" "$STEP")
