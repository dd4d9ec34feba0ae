#!/usr/bin/env bash
# Rollout benchmark (not a test): wall time of ttyfleet.serial_console.rollout on N stock lab guests (host phase,
# guest phase, one cold power cycle each, login: verified on every serial console) against the N-guest floor (the
# same N guests, configured, cold-booted to login: at once) and the single-guest floor. See bench/README.md.
#
# usage: bench/rollout.sh [N...]      default: 1 2 4 (guests at once; TCG costs one host core per guest)
# Needs the synced collection (make sync) and the lab images (scripts/build-image.sh; built on first use).
# BENCH_NICE=-10: run the bench (the controller) at that nice value and give libvirt's machine cgroup (every guest
# QEMU) the CPU weight of that nice value for the run (restored at the end), so that other load on a shared machine
# takes less from rollout and floor alike. Nice alone does not reach the guests: libvirt puts each QEMU in a cgroup
# of its own under machine/, which competes with the rest of the host as one nice-0 task. Say so with the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lab-common.sh
. "$here/lab-common.sh"
sizes=("$@"); ((${#sizes[@]})) || sizes=(1 2 4)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/results/rollout-$stamp
mkdir -p "$out"
lab=$out/lab
cleanup() { bash "$ROOT/scripts/lab.sh" destroy "$lab" >/dev/null 2>&1 || true; }
machine_cg=""
machine_weight=""
trap 'cleanup; [[ -z $machine_cg ]] || echo "$machine_weight" >"$machine_cg" || true' EXIT
log() { printf '[bench-rollout %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
if [[ -n ${BENCH_NICE:-} ]]; then
  renice -n "$BENCH_NICE" -p $$ >/dev/null
  for f in /sys/fs/cgroup/cpu/machine/cpu.shares /sys/fs/cgroup/machine.slice/cpu.weight /sys/fs/cgroup/machine/cpu.weight; do
    [[ -w $f ]] || continue
    machine_weight=$(<"$f")
    # the kernel's weight for a nice value: 1024 (cgroup v1 shares) or 100 (v2 weight) x 1.25^-nice
    weight=$("$PY" -c 'import sys; print(round((1024 if sys.argv[1].endswith("shares") else 100) * 1.25 ** -int(sys.argv[2])))' \
      "$f" "$BENCH_NICE")
    echo "$weight" >"$f"
    machine_cg=$f
    log "bench at nice $BENCH_NICE; guests' cgroup $f: $weight (was $machine_weight)"
    break
  done
  [[ -n $machine_cg ]] || log "bench at nice $BENCH_NICE; no machine cgroup found: the guests' CPU weight is unchanged"
fi
now() { date +%s.%N; }

# console_prompt power=start on GUEST... at once, from one controller with a fork per guest (as the rollout's
# power-cycle phase runs them); writes OUTFILE-GUEST.json and prints "GUEST SECONDS" (seconds from resume to login:)
prompt_seconds() { # OUTFILE GUEST...
  local base=$1 tree g; shift
  tree=$(mktemp -d)
  "$ANSIBLE" "$(IFS=:; echo "$*")" -i "$lab/inventory.yml" -c local -e "ansible_python_interpreter=$PY" -f "$#" \
    -m ttyfleet.serial_console.console_prompt -a 'name={{ inventory_hostname }} power=start timeout_s=600' \
    --tree "$tree" >"$base.log" 2>&1 || true
  for g in "$@"; do
    [[ -f $tree/$g ]] || { echo "no console_prompt result for $g: see $base.log" >&2; rm -rf "$tree"; return 1; }
    mv "$tree/$g" "$base-$g.json"
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))
assert r.get("matched") and r.get("power_action") == "started", (r.get("power_action"), r.get("msg"))
print(sys.argv[2], "%.1f" % r["seconds"])' "$base-$g.json" "$g" || { rm -rf "$tree"; return 1; }
  done
  rm -rf "$tree"
}

shut_off() { # GUEST...: ACPI shutdown of each, then wait until all are shut off (fail after 180 s)
  local g state
  for g in "$@"; do virsh -c qemu:///system shutdown "$g" >/dev/null; done
  for g in "$@"; do
    for _ in $(seq 1 180); do
      state=$(virsh -c qemu:///system domstate "$g")
      [[ $state == "shut off" ]] && continue 2
      sleep 1
    done
    echo "$g did not shut down within 180 s (state: $state)" >&2; return 1
  done
}

load() { cut -d' ' -f1 /proc/loadavg; }

results=()
floor=""
for n in "${sizes[@]}"; do
  names=()
  for i in $(seq 1 "$n"); do names+=("lab-bench-$i:$FLAVOUR"); done
  log "N=$n: booting $n stock guests (not timed)"
  cleanup
  bash "$ROOT/scripts/lab.sh" create "$lab" "${names[@]}" >"$out/lab-create-$n.log" 2>&1 ||
    { tail -n 30 "$out/lab-create-$n.log"; exit 1; }
  load0=$(load)
  log "N=$n: rollout (restart allowed); load average $load0 ($(cut -d' ' -f1-3 /proc/loadavg); $(pgrep -c -f mmdebstrap || true) mmdebstrap processes)"
  t0=$(now)
  # every output line gets its arrival time, so the phases (plays) can be timed too
  "$PLAYBOOK" -i "$lab/inventory.yml" -e serial_console_restart_ok=true -e serial_console_report_dir="$out/report-$n" \
    -f "$((n + 2))" ttyfleet.serial_console.rollout 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done >"$out/rollout-$n.log" ||
    { tail -n 40 "$out/rollout-$n.log"; exit 1; }
  t1=$(now)
  wall=$("$PY" -c "print('%.1f' % ($t1 - $t0))")
  phases=$("$PY" - "$out/rollout-$n.log" "$t0" "$t1" <<'PY'
import re, sys
starts, t0, t1 = [], float(sys.argv[2]), float(sys.argv[3])
for line in open(sys.argv[1]):
    ts, _, text = line.partition(" ")
    m = re.match(r"PLAY \[Rollout \| ([a-z-]+) phase", text)
    if m:
        starts.append((m.group(1), float(ts)))
    elif text.startswith("PLAY [Rollout | summary"):
        starts.append(("summary", float(ts)))
ends = [t for _, t in starts[1:]] + [t1]
print(" ".join("%s=%.1f" % (name, end - t) for (name, t), end in zip(starts, ends)))
PY
)
  prompts=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]
assert all(r["prompt_seen"] and r["restart"] == "yes" for r in s), s
print(" ".join("%.1f" % r["seconds_to_prompt"] for r in s))' "$out/report-$n/rollout.json")
  log "N=$n: rollout ${wall}s ($phases; seconds to login: after each start: $prompts)"
  # The N-guest floor: the same N guests, now configured, shut down and cold-booted to login: all at once (no
  # Ansible around the boots): the physical limit of N TCG guests on this machine. The old single-guest floor is
  # the 1-guest one (or, without a 1-guest run, guest 1 of the first size booted alone).
  guests=()
  for i in $(seq 1 "$n"); do guests+=("lab-bench-$i"); done
  if [[ -z $floor && $n -ne 1 ]]; then
    shut_off lab-bench-1
    floor=$(prompt_seconds "$out/floor-single" lab-bench-1 | cut -d' ' -f2)
    log "single-guest floor: cold boot to login: ${floor}s"
  fi
  shut_off "${guests[@]}"
  t0=$(now)
  prompt_seconds "$out/floor-$n" "${guests[@]}" >"$out/floor-$n.s"
  t1=$(now)
  nfloor=$(sort -k2 -n "$out/floor-$n.s" | tail -n 1 | cut -d' ' -f2)
  [[ -n $floor ]] || floor=$nfloor
  load1=$(load)
  log "N=$n: floor, $n configured guests cold-booted at once: slowest login: after ${nfloor}s ($(tr '\n' ' ' <"$out/floor-$n.s"); $("$PY" -c "print('%.1f' % ($t1 - $t0))") s with Ansible start-up); load average $load1 ($(cut -d' ' -f1-3 /proc/loadavg))"
  results+=("$n $wall floor=$nfloor load0=$load0 load1=$load1 $phases $prompts")
done

"$PY" - "$floor" "$out" "${results[@]}" <<'PY'
import json, os, sys
floor, out, rows = float(sys.argv[1]), sys.argv[2], [r.split() for r in sys.argv[3:]]
print("\nRollout wall time vs the N-guest floor (N configured guests cold-booted to login: at once)")
print("and vs the old single-guest floor (one configured guest cold-booted to login: = %.1f s)" % floor)
print("  guests | rollout s | N-floor s | x N-floor | x 1-floor | load before/after | s to login: after each start")
print("  -------+-----------+-----------+-----------+-----------+-------------------+-----------------------------")
data = []
for r in rows:
    n, wall = int(r[0]), float(r[1])
    kv = dict(x.split("=") for x in r[2:] if "=" in x)
    nfloor = float(kv.pop("floor"))
    load = [float(kv.pop("load0")), float(kv.pop("load1"))]
    prompts = [float(x) for x in r[2:] if "=" not in x]
    print("  %6d | %9.1f | %9.1f | %9.2f | %9.2f | %8.2f %8.2f | %s"
          % (n, wall, nfloor, wall / nfloor, wall / floor, load[0], load[1], " ".join("%.1f" % p for p in prompts)))
    print("         |           |           |           |           |                   |   phases (s): %s"
          % ", ".join("%s %s" % item for item in kv.items()))
    data.append({"guests": n, "rollout_s": wall, "floor_n_s": nfloor, "ratio_n_floor": round(wall / nfloor, 2),
                 "ratio": round(wall / floor, 2), "load_before_after": load, "seconds_to_prompt": prompts,
                 "phases_s": {k: float(v) for k, v in kv.items()}})
for d in data:
    print("  goal (issue 10): %d guest(s) <= 1.3x its N-guest floor: %s (%.2fx)"
          % (d["guests"], "met" if d["ratio_n_floor"] <= 1.3 else "NOT met", d["ratio_n_floor"]))
json.dump({"floor_s": floor, "bench_nice": os.environ.get("BENCH_NICE") or None, "runs": data}, open(out + "/rollout.json", "w"), indent=1)
print("  written: %s/rollout.json" % out)
PY
