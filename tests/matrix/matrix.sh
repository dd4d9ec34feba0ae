#!/usr/bin/env bash
# Every ansible-core the collection claims (`make matrix`; requires_ansible in meta/runtime.yml): for each minor
# below the project's own (2.19, which `make sanity units galaxy-install-test` run in .venv), in a venv of its own
# (scripts/tool-venv.sh matrix-<minor>):
#   sanity  the tests whose result depends on the ansible-core version: validate-modules (argument spec and docs
#           schema), ansible-doc, import (on Python 3.11) and compile (on every Python from tests/config.yml's
#           minimum that this machine has)
#   units   tests/unit with that ansible-core
#   galaxy  tests/galaxy/build_install_test.sh with that ansible-core's ansible-galaxy and ansible-doc
#   playbooks  on the oldest minor asked for only: real role and playbook runs, where templating differs between
#           versions (before 2.19 a templated value is a string unless it looks like a literal): the guest role in
#           check mode and then for real on the Debian 12 fixture root, its files checked
#           (tests/integration/targets/role_guest_fixtures), and the fleet audit of three shut-off domains on
#           qemu:///system (one with VNC left alone), its report and CI gate checked (fleet_audit). Each target's
#           own runme.sh, its quick pass (TTYFLEET_QUICK=1; make integration runs them whole, on 2.19); the
#           domains under a prefix of their own (tf-mx-<minor>-), so a make integration on this host is never hit
# usage: matrix.sh [MINOR...]   (default: 2.16 2.17 2.18). Prints one line per version and step, and a table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:?BUILD= the build dir (make matrix sets it)}
COLL=$BUILD/ansible_collections/ttyfleet/serial_console
log() { printf '[matrix] %s\n' "$*" >&2; }
[[ -f $COLL/galaxy.yml ]] || { log "FAIL: no synced collection at $COLL"; exit 1; }
versions=("$@"); ((${#versions[@]})) || versions=(2.16 2.17 2.18)
oldest=$(printf '%s\n' "${versions[@]}" | sort -V | head -n 1)
SANITY_TESTS=(--test validate-modules --test ansible-doc --test import)

# the other Pythons for the compile test: interpreters that are not pyenv shims (ansible-test runs pythonX.Y by
# name with a clean environment, where a shim of a non-global pyenv version fails)
pydirs=""
for d in "$HOME"/.pyenv/versions/3.*/bin; do [[ -x $d/python3 ]] && pydirs="$pydirs:$d"; done

results=()
failed=0
for v in "${versions[@]}"; do
  [[ $v =~ ^2\.[0-9]+$ ]] || { log "FAIL: not an ansible-core minor version: $v"; exit 2; }
  venv=$(bash "$ROOT/scripts/tool-venv.sh" "matrix-$v")
  VENV=$venv bash "$ROOT/scripts/bootstrap.sh" ansible-test-offline
  core=$("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')
  # a tree of its own: ansible-test writes tests/output, and the versions must not share it
  tree=$BUILD/matrix-$v
  mkdir -p "$tree/ansible_collections/ttyfleet/serial_console"
  rsync -a --delete --exclude tests/output "$COLL/" "$tree/ansible_collections/ttyfleet/serial_console/"
  t=$tree/ansible_collections/ttyfleet/serial_console
  steps=(sanity units galaxy)
  [[ $v == "$oldest" ]] && steps+=(playbooks)
  for step in "${steps[@]}"; do
    start=$SECONDS
    rc=0
    case $step in
      sanity)
        # both runs, even when the first fails: every problem in one pass
        (cd "$t" && env PATH="$venv/bin$pydirs:$PATH" VIRTUAL_ENV="$venv" ansible-test sanity --venv --python 3.11 --color no \
          "${SANITY_TESTS[@]}") >"$tree/$step.log" 2>&1 || rc=$?
        (cd "$t" && env PATH="$venv/bin$pydirs:$PATH" VIRTUAL_ENV="$venv" ansible-test sanity --venv --color no --test compile) \
          >>"$tree/$step.log" 2>&1 || rc=$?
        ;;
      units)
        (cd "$t" && PYTHONPATH=$tree "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit) >"$tree/$step.log" 2>&1 || rc=$?
        ;;
      galaxy)
        env PATH="$venv/bin:$PATH" VENV="$venv" BUILD="$tree" bash "$t/tests/galaxy/build_install_test.sh" >"$tree/$step.log" 2>&1 || rc=$?
        ;;
      playbooks)
        : >"$tree/$step.log"
        for target in role_guest_fixtures fleet_audit; do
          (cd "$t/tests/integration/targets/$target" && env PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" \
            ANSIBLE_COLLECTIONS_PATH="$tree" ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python" \
            ANSIBLE_TEST_PYTHON_INTERPRETER="$venv/bin/python" TTYFLEET_QUICK=1 FLEET_AUDIT_PREFIX="tf-mx-${v//./}-" \
            ./runme.sh) >>"$tree/$step.log" 2>&1 || rc=$?
        done
        ;;
    esac
    took=$((SECONDS - start))
    summary=$(grep -E '^[0-9]+ passed|passed|Running sanity test' "$tree/$step.log" | tail -n 1 || true)
    [[ $step == sanity ]] && summary="$(grep -c '^Running sanity test' "$tree/$step.log" || true) sanity runs"
    [[ $step == galaxy ]] && summary=$(grep -o 'OK: .*' "$tree/$step.log" | head -n 1 || true)
    [[ $step == playbooks ]] && summary=$(grep -E '^(role fixtures|fleet_audit)' "$tree/$step.log" | sed 's/ (quick[^)]*)//' | paste -sd ';' - || true)
    if ((rc == 0)); then status=passed; else status=FAILED; failed=1; tail -n 30 "$tree/$step.log" >&2; fi
    log "ansible-core $core $step: $status in $took s ($summary; log $tree/$step.log)"
    results+=("| $core | $step | $status | $took s | $summary |")
  done
done
printf '| ansible-core | step | result | time | detail |\n|---|---|---|---|---|\n'
printf '%s\n' "${results[@]}"
exit $failed
