#!/usr/bin/env bash
# Rollout benchmark (not a test): wall time of ttyfleet.serial_console.rollout on N stock lab guests (host phase,
# guest phase, one cold power cycle each, login: verified on every serial console) against the floor, one cold
# boot of a configured guest to login: on this machine. See bench/README.md ("Rollout").
#
# usage: bench/rollout.sh [N...]      default: 1 2 4 (guests at once; TCG costs one host core per guest)
# Needs the synced collection (make sync) and the lab images (scripts/build-image.sh; built on first use).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$here")
# The Makefile exports ANSIBLE_COLLECTIONS_PATH; run alone, use the Makefile's default build dir (BUILD).
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-${BUILD:-/var/tmp/ttyfleet-build-$(printf %s "$ROOT" | md5sum | cut -c1-8)}}
if [[ ! -f $ANSIBLE_COLLECTIONS_PATH/ansible_collections/ttyfleet/serial_console/galaxy.yml ]]; then
  echo "$(basename "$0"): no collection under $ANSIBLE_COLLECTIONS_PATH: run 'make sync' first" >&2; exit 2
fi
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=False
PY=$ROOT/.venv/bin/python
PLAYBOOK=$ROOT/.venv/bin/ansible-playbook
ANSIBLE=$ROOT/.venv/bin/ansible
FLAVOUR=${BENCH_FLAVOUR:-bookworm}
sizes=("$@"); ((${#sizes[@]})) || sizes=(1 2 4)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/results/rollout-$stamp
mkdir -p "$out"
lab=$out/lab
cleanup() { bash "$ROOT/scripts/lab.sh" destroy "$lab" >/dev/null 2>&1 || true; }
trap cleanup EXIT
log() { printf '[bench-rollout %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }

# console_prompt from the command line; prints seconds to login: (or fails)
prompt_seconds() { # GUEST POWER
  local tree
  tree=$(mktemp -d)
  "$ANSIBLE" lab-hypervisor -i "$lab/inventory.yml" -m ttyfleet.serial_console.console_prompt \
    -a "name=$1 power=$2 timeout_s=600" --tree "$tree" >/dev/null 2>&1 || true
  mv "$tree/lab-hypervisor" "$out/prompt-$1-$2.json"
  rm -rf "$tree"
  "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))
assert r.get("matched"), r.get("msg"); print("%.1f" % r["seconds"])' "$out/prompt-$1-$2.json"
}

results=()
floor=""
for n in "${sizes[@]}"; do
  names=()
  for i in $(seq 1 "$n"); do names+=("lab-bench-$i:$FLAVOUR"); done
  log "N=$n: booting $n stock guests (not timed)"
  cleanup
  bash "$ROOT/scripts/lab.sh" create "$lab" "${names[@]}" >"$out/lab-create-$n.log" 2>&1 ||
    { tail -n 30 "$out/lab-create-$n.log"; exit 1; }
  log "N=$n: rollout (restart allowed)"
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
  if [[ -z $floor ]]; then
    # The floor: the same, now configured, guest shut down and cold-booted to login: (no Ansible around it).
    g="lab-bench-1"
    virsh -c qemu:///system shutdown "$g" >/dev/null
    for _ in $(seq 1 120); do
      [[ $(virsh -c qemu:///system domstate "$g") == "shut off" ]] && break
      sleep 1
    done
    floor=$(prompt_seconds "$g" start)
    log "floor: cold boot to login: ${floor}s"
  fi
  results+=("$n $wall $phases $prompts")
done

"$PY" - "$floor" "$out" "${results[@]}" <<'PY'
import json, sys
floor, out, rows = float(sys.argv[1]), sys.argv[2], [r.split() for r in sys.argv[3:]]
print("\nRollout wall time vs the floor (one cold boot of a configured guest to login: = %.1f s)" % floor)
print("  guests | rollout s | x floor | s to login: after each start")
print("  -------+-----------+---------+------------------------------")
data = []
for r in rows:
    n, wall = int(r[0]), float(r[1])
    phases = dict(x.split("=") for x in r[2:] if "=" in x)
    prompts = [float(x) for x in r[2:] if "=" not in x]
    print("  %6d | %9.1f | %7.2f | %s" % (n, wall, wall / floor, " ".join("%.1f" % p for p in prompts)))
    print("         |           |         |   phases (s): %s" % ", ".join("%s %s" % kv for kv in phases.items()))
    data.append({"guests": n, "rollout_s": wall, "ratio": round(wall / floor, 2), "seconds_to_prompt": prompts,
                 "phases_s": {k: float(v) for k, v in phases.items()}})
goal = [d for d in data if d["guests"] == 2]
if goal:
    print("  goal (issue 5): 2 guests <= 1.3x floor: %s (%.2fx)" % ("met" if goal[0]["ratio"] <= 1.3 else "NOT met",
                                                               goal[0]["ratio"]))
json.dump({"floor_s": floor, "runs": data}, open(out + "/rollout.json", "w"), indent=1)
print("  written: %s/rollout.json" % out)
PY
