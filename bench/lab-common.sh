# shellcheck shell=bash
# Sourced by bench/rollout.sh and bench/guest_phase.sh (which set `here`, their own directory): the collection
# they run, the venv's tools, and the lab guest flavour.
ROOT=$(dirname "${here:?set by the sourcing script}")
# The Makefile exports ANSIBLE_COLLECTIONS_PATH; run alone, use the Makefile's default build dir (BUILD).
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-${BUILD:-/var/tmp/ttyfleet-build-$(printf %s "$ROOT" | md5sum | cut -c1-8)}}
if [[ ! -f $ANSIBLE_COLLECTIONS_PATH/ansible_collections/ttyfleet/serial_console/galaxy.yml ]]; then
  echo "$(basename "$0"): no collection under $ANSIBLE_COLLECTIONS_PATH: run 'make sync' first" >&2; exit 2
fi
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=False
# Not used here: the sourcing scripts (bench/rollout.sh, bench/guest_phase.sh) use them.
# shellcheck disable=SC2034
{
  PY=$ROOT/.venv/bin/python
  PLAYBOOK=$ROOT/.venv/bin/ansible-playbook
  ANSIBLE=$ROOT/.venv/bin/ansible
  FLAVOUR=${BENCH_FLAVOUR:-bookworm}
}
