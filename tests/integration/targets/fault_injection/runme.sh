#!/usr/bin/env bash
# Faults on the real qemu:///system, each one injected for real (no hook in the modules):
#  A. start failure after a redefine (restart=true; the tcp port the new serial binds is held by this script)
#  C. a domain undefined mid-run under all_domains, after every domain was planned
#  D. a `virsh define` writer on 29 of 30 domains while one module call works on all 30
#  B. libvirtd restarted (under the boot lock) right after the module's define, while it waits for the shutdown
#     (last: it waits for the boot lock while someone boots a guest)
# Diskless domains only (prefix tf-fi-): they sit in SeaBIOS, ignore the ACPI shutdown, and need no boot lock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
PREFIX=tf-fi-
LOCK=/var/lock/ttyfleet-boot
work=$(mktemp -d /tmp/tf-fi.XXXXXX)
helper() { "$PY" files/fault_helper.py "$@"; }
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  helper cleanup "$PREFIX" || true
  rm -rf "$work"
}
trap cleanup EXIT
play() { ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$PY" -e "prefix=$PREFIX" "$@"; }
t0=$SECONDS
t=$t0
helper cleanup "$PREFIX"
# FAULT_PHASES="A C" runs some phases only (while working on one); the target runs all four.
want() { [[ " ${FAULT_PHASES:-A C D B} " == *" $1 "* ]]; }

if want A; then
echo "== A. start failure after a redefine"
port=$(helper free-port)
"$PY" files/fault_helper.py hold "$port" "$work/held" & bg+=($!)  # python itself, so that kill reaches it
for _ in $(seq 50); do [[ -f $work/held ]] && break; sleep 0.1; done
helper make "$PREFIX" a1 running
play -e "held_port=$port" start_failure.yml
echo "A took $((SECONDS - t)) s"; t=$SECONDS
fi

if want C; then
echo "== C. a domain undefined mid-run under all_domains"
helper foreign-with-serial3 "$PREFIX"
helper make "$PREFIX" c1 running "<serial type='pty'><target type='isa-serial' port='3'><model name='isa-serial'/></target></serial>"
helper make "$PREFIX" c2,c3 "" "<serial type='pty'><target type='isa-serial' port='3'><model name='isa-serial'/></target></serial>"
( helper wait-xml "${PREFIX}c1" "port='3'" absent 60 && sleep 0.5 \
  && virsh -q -c qemu:///system undefine "${PREFIX}c2" ) >"$work/undefine.log" 2>&1 & undefiner=$!
play vanished.yml
wait "$undefiner" || { cat "$work/undefine.log"; exit 1; }
echo "C took $((SECONDS - t)) s"; t=$SECONDS
fi

if want D; then
echo "== D. a concurrent virsh define writer during a 30-domain run"
names=$(printf 'd%02d,' $(seq 0 29)); names=${names%,}
others=${names#d00,}
helper make "$PREFIX" d00 running
helper make "$PREFIX" "$others"
( helper wait-xml "${PREFIX}d00" "<serial type='pty'>" present 60 \
  && helper writer "$PREFIX" "$others" 5 "$work/writer.json" ) >"$work/writer.log" 2>&1 & writer=$!
play -e "names=$names" concurrent.yml
wait "$writer" || { cat "$work/writer.log"; exit 1; }
cat "$work/writer.log"
helper both-kept "$PREFIX" "$others" "$work/writer.json"
echo "D took $((SECONDS - t)) s"; t=$SECONDS
fi

if want B; then
echo "== B. libvirtd restarted after the define, while the module waits"
restart_libvirtd() {
  local pid
  pid=$(pgrep -x libvirtd)
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  libvirtd -d
  for _ in $(seq 100); do virsh -q -c qemu:///system version >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "libvirtd did not come back"; return 1
}
helper make "$PREFIX" b1 running
helper make "$PREFIX" b2
exec 9>"$LOCK"
flock -w 1800 9   # restarting libvirtd only while no one boots a guest
( helper wait-xml "${PREFIX}b1" "<serial type='pty'>" present 60 && sleep 1 && restart_libvirtd \
  && echo "libvirtd restarted" ) >"$work/restart.log" 2>&1 & restarter=$!
play libvirtd_restart.yml
wait "$restarter" || { cat "$work/restart.log"; exit 1; }
cat "$work/restart.log"
flock -u 9
echo "B took $((SECONDS - t)) s (with the wait for the boot lock)"
fi

echo "fault_injection: all phases passed in $((SECONDS - t0)) s"
