#!/usr/bin/env bash
# Guest-phase benchmark (not a test): remote module calls and wall time per guest of the `guest` role on one stock
# TCG lab guest, first converge and then a no-op re-run. See bench/README.md ("Guest phase").
#
# usage: bench/guest_phase.sh [LABEL [ANSIBLE-PLAYBOOK ARGS...]]
#        LABEL names the result directory (default: the git commit); the other arguments go to both runs,
#        e.g. -e guest_getty_systemd_dropin=true
# Boots one guest with scripts/lab.sh: run it under the boot lock (flock /var/lock/ttyfleet-boot ...).
# Counting: ansible-playbook -vvv logs every ssh command it sends ("SSH: EXEC"); with pipelining (the lab's
# inventory sets it) one module call is one ssh command that starts python on the guest. Both counts are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lab-common.sh
. "$here/lab-common.sh"
label=${1:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
(($#)) && shift
extra=("$@")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/results/guest-phase-$stamp-$label
mkdir -p "$out"
lab=$out/lab
cleanup() { bash "$ROOT/scripts/lab.sh" destroy "$lab" >/dev/null 2>&1 || true; }
trap cleanup EXIT
log() { printf '[bench-guest %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "booting one stock $FLAVOUR guest (not timed)"
bash "$ROOT/scripts/lab.sh" create "$lab" "gp-bench-1:$FLAVOUR" >"$out/lab-create.log" 2>&1 ||
  { tail -n 30 "$out/lab-create.log"; exit 1; }

rows=()
for run in converge noop; do
  log "$run"
  t0=$(date +%s.%N)
  "$PLAYBOOK" -vvv -i "$lab/inventory.yml" "$here/guest_phase.yml" "${extra[@]}" >"$out/$run.log" 2>&1 ||
    { tail -n 40 "$out/$run.log"; exit 1; }
  t1=$(date +%s.%N)
  rows+=("$run $t0 $t1")
done

"$PY" - "$out" "$label" "${extra[*]:-}" "$(cut -d' ' -f1-3 /proc/loadavg)" "${rows[@]}" <<'PY'
import json, re, sys
out, label, extra, load, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], [r.split() for r in sys.argv[5:]]
data = {"label": label, "args": extra, "loadavg": load, "runs": {}}
print("\nGuest phase on one TCG guest (%s; %s; load average %s)" % (label, extra or "role defaults", load))
print("  run      | module calls | ssh commands | changed | wall s")
for name, t0, t1 in rows:
    text = open("%s/%s.log" % (out, name), encoding="utf-8", errors="replace").read()
    execs = [l for l in text.splitlines() if "SSH: EXEC" in l]
    modules = [l for l in execs if "python3" in l]
    recap = re.search(r"gp-bench-1\s*:\s*ok=(\d+)\s+changed=(\d+)", text)
    changed = int(recap.group(2)) if recap else None
    wall = float(t1) - float(t0)
    data["runs"][name] = {"module_calls": len(modules), "ssh_commands": len(execs), "changed": changed,
                          "wall_s": round(wall, 1)}
    print("  %-8s | %12d | %12d | %7s | %6.1f" % (name, len(modules), len(execs), changed, wall))
json.dump(data, open(out + "/guest_phase.json", "w"), indent=1)
print("  written: %s/guest_phase.json" % out)
PY
