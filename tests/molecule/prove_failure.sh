#!/usr/bin/env bash
# The proof can fail: converge the `default` scenario's guests, break them on purpose, and require that
# `molecule verify` fails with a message naming what is missing. Run by `make prove-failure` (not part of
# `make test`: it costs two extra cold boots per guest, about 10 minutes under TCG).
#   1. console= dropped from grub.cfg  -> verify must fail naming `console=ttyS0,115200n8`
#   2. serial getty masked / inittab line commented out -> verify must fail naming the getty
set -euo pipefail
COLL=${COLL:?run through make prove-failure}
SCENARIO=${SCENARIO:-default}
cd "$COLL"
log() { printf '\n[prove-failure] %s\n' "$*"; }
cleanup() { molecule destroy -s "$SCENARIO" >/dev/null 2>&1 || true; }
trap cleanup EXIT

expect_verify_failure() {
  local what=$1 pattern=$2 out rc=0
  out=$(MOLECULE_PROMPT_TIMEOUT_S=${MOLECULE_PROMPT_TIMEOUT_S:-150} molecule verify -s "$SCENARIO" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -E 'Fail with what is missing|msg:|^ *- ' | tail -n 12
  if ((rc == 0)); then
    log "FAIL: verify passed although $what"; exit 1
  fi
  # Ansible's YAML output wraps long messages: join the lines before looking for the words.
  if ! tr -s ' \n' '  ' <<<"$out" | grep -Eq -- "$pattern"; then
    log "FAIL: verify failed, but its message does not name what is missing ($pattern)"; exit 1
  fi
  log "ok: verify failed (rc=$rc) and named it: $pattern"
}

log "converge the $SCENARIO guests"
molecule destroy -s "$SCENARIO" >/dev/null
molecule create -s "$SCENARIO"
molecule converge -s "$SCENARIO"

log "break 1: drop console= from grub.cfg"
MOLECULE_BREAK=console molecule side-effect -s "$SCENARIO"
expect_verify_failure "the kernel has no serial console" 'lacks console=ttyS0,115200n8|boots no kernel with console=ttyS0'

log "break 2: no getty on ttyS0"
MOLECULE_BREAK=getty molecule side-effect -s "$SCENARIO"
expect_verify_failure "no getty listens on ttyS0" 'serial-getty@ttyS0.service is not (enabled|running)|no getty process is running on ttyS0|inittab has no getty line|test_serial_getty\[.*AssertionError'

log "the proof fails when the guest is broken: both cases named what is missing"
