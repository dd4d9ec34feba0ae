#!/usr/bin/env bash
# make demo: from a bare Debian 12 machine to serial consoles with login prompts on a lab of stock guests.
#   1. install what the lab needs (scripts/bootstrap.sh) and build the stock guest image (cached);
#   2. boot two stock guests (no serial port: their console shows nothing);
#   3. audit the fleet (drift report); 4. roll serial consoles out (one cold power cycle each);
#   5. audit again (clean); 6. read each guest's serial console: a login prompt; then a short table.
# make demo-clean (demo.sh clean) removes the lab. TTYFLEET_DEMO_DIR (default /var/lib/ttyfleet/demo) holds the
# inventory, the reports and full logs of every step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TTYFLEET_DEMO_DIR:-/var/lib/ttyfleet/demo}
read -r -a GUESTS <<<"${TTYFLEET_DEMO_GUESTS:-demo-a:bookworm demo-b:bookworm}"
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/build}
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False
# progress shows the tasks that change or fail something (the full output is in the logs)
export ANSIBLE_DISPLAY_OK_HOSTS=false ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
PY=$root/.venv/bin/python
PLAYBOOK=$root/.venv/bin/ansible-playbook
ANSIBLE=$root/.venv/bin/ansible
t0=$SECONDS

say() { printf '\n[demo %4ds] == %s\n' "$((SECONDS - t0))" "$*"; }
note() { printf '[demo %4ds]    %s\n' "$((SECONDS - t0))" "$*"; }

if [[ ${1:-} == clean ]]; then
  bash "$root/scripts/lab.sh" destroy "$DIR" >/dev/null
  echo "demo lab removed (domains, overlays, logs, $DIR)"
  exit 0
fi

# Progress while a playbook runs: each play and task as it starts, failures at once; the full output is in LOG.
play() { # LOG PLAYBOOK [args...]
  local log=$1; shift
  set +e
  "$PLAYBOOK" -i "$DIR/inventory.yml" -e serial_console_report_dir="$DIR/report" "$@" 2>&1 | tee "$log" |
    while IFS= read -r line; do
      case $line in
        "PLAY ["*) note "${line%% \**}" ;;
        "TASK ["*) line=${line#TASK \[}; note "  - ${line%%\] \**}" ;;
        fatal:* | failed:*) printf '               %s\n' "${line:0:300}" ;;
      esac
    done
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# Progress for a long step whose output goes to LOG: every image-build stage and every task as it starts, and
# while nothing new happens, a line every 10 s saying what is waited for and for how long. WHAT names the step.
progress() { # LOG WHAT command [args...]
  local log=$1 what=$2; shift 2
  "$@" >"$log" 2>&1 &
  local pid=$! seen=0 status=$what since=$SECONDS last=$SECONDS n line rc
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$(wc -l <"$log")
    if ((n > seen)); then
      while IFS= read -r line; do
        case $line in
          "[build-image"*) status="image build: ${line#*] }"; since=$SECONDS; note "  ${line}"; last=$SECONDS ;;
          "TASK ["*) line=${line#TASK \[}; status="${line%%\] \**}"; since=$SECONDS; note "  - $status"; last=$SECONDS ;;
          fatal:* | failed:*) printf '               %s\n' "${line:0:300}" ;;
        esac
      done < <(sed -n "$((seen + 1)),${n}p" "$log")
      seen=$n
    fi
    if ((SECONDS - last >= 10)); then
      note "    ... still: $status ($((SECONDS - since)) s)"
      last=$SECONDS
    fi
  done
  wait "$pid" && rc=0 || rc=$?
  return "$rc"
}

# console_prompt from the command line (no power change); its result, as JSON, in OUT.json.
console() { # GUEST TIMEOUT_S OUT.json
  local tree
  tree=$(mktemp -d)
  "$ANSIBLE" lab-hypervisor -i "$DIR/inventory.yml" -m ttyfleet.serial_console.console_prompt \
    -a "name=$1 timeout_s=$2" --tree "$tree" >/dev/null 2>&1 || true
  mv "$tree/lab-hypervisor" "$3"
  rm -rf "$tree"
}
console_field() { # OUT.json FIELD
  "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print(v if v is not None else "")' "$1" "$2"
}

say "1. install what the lab needs, build the stock guest image (cached after the first run)"
bash "$root/scripts/bootstrap.sh" all
note "$(virsh -c qemu:///system version 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g')"

say "2. boot a lab of ${#GUESTS[@]} stock guests: ${GUESTS[*]}"
if [[ -f $DIR/lab.json ]]; then
  note "removing the previous demo lab first"
  bash "$root/scripts/lab.sh" destroy "$DIR" >/dev/null
fi
mkdir -p "$DIR/logs"
# the stock images first, on their own, so that each build stage shows as it happens (cached: seconds)
read -r -a flavours <<<"$(printf '%s\n' "${GUESTS[@]}" | sed 's/^[^:]*:\{0,1\}//; s/^$/bookworm/' | sort -u | tr '\n' ' ')"
note "stock images: ${flavours[*]} (built offline from the Debian mirror on the first run, several minutes; cached after)"
progress "$DIR/logs/1-images.log" "image build" bash "$root/scripts/build-image.sh" "${flavours[@]}" ||
  { tail -n 30 "$DIR/logs/1-images.log"; exit 1; }
# lab.sh writes DIR/inventory.yml; play() reads it, so the lab's own log goes aside
tmplog=$(mktemp)
note "define and start the guests, then wait for their sshd (TCG: about 30-40 s per guest)"
if ! ANSIBLE_PLAYBOOK=$PLAYBOOK progress "$tmplog" "creating the lab" bash "$root/scripts/lab.sh" create "$DIR" "${GUESTS[@]}"; then
  cat "$tmplog"; rm -f "$tmplog"; exit 1
fi
mv "$tmplog" "$DIR/logs/1-lab-create.log"
read -r -a names <<<"$(bash "$root/scripts/lab.sh" names "$DIR")"
note "guests up (ssh answers): ${names[*]}"

say "   their serial consoles today: nothing (what 'virsh console' users see)"
for g in "${names[@]}"; do
  console "$g" 10 "$DIR/logs/console-before-$g.json"
  printf '               %s: %s\n' "$g" "$(console_field "$DIR/logs/console-before-$g.json" msg | cut -c1-160)"
done

say "3. audit the fleet (check mode: nothing changes)"
play "$DIR/logs/3-audit-before.log" ttyfleet.serial_console.audit || true
cp "$DIR/report/audit.json" "$DIR/report/audit-before.json"
cp "$DIR/report/audit.md" "$DIR/report/audit-before.md"
table() { awk '/^\| guest \| domain/ {on = 1} on && /^$/ {exit} on' "$1" | sed 's/^/               /'; }
table "$DIR/report/audit.md"

say "4. roll out: host devices, guest config, one cold power cycle per guest, prompt verified"
play "$DIR/logs/4-rollout.log" ttyfleet.serial_console.rollout -e serial_console_restart_ok=true
table "$DIR/report/rollout.md"

say "5. audit again, as a CI gate (serial_console_fail_on_drift=true)"
play "$DIR/logs/5-audit-after.log" ttyfleet.serial_console.audit -e serial_console_fail_on_drift=true
grep -E '^\*\*' "$DIR/report/audit.md" | sed 's/^/               /'

say "6. each guest's serial console (libvirt's console stream, what 'virsh console' shows)"
for g in "${names[@]}"; do
  echo "               --- $g: the end of its first boot with a serial console (read by the rollout) ---"
  "$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["summary"]:
    if r["guest"] == sys.argv[2]:
        print("\n".join(r.get("console_tail") or []))' "$DIR/report/rollout.json" "$g" | sed 's/^/               | /'
  console "$g" 60 "$DIR/logs/console-after-$g.json"
  echo "               --- $g: now, after a carriage return ---"
  console_field "$DIR/logs/console-after-$g.json" transcript | grep -v '^\s*$' | tail -n 2 | sed 's/^/               | /'
done

say "summary"
"$PY" - "$DIR" "${names[@]}" <<'PY'
import json, sys
d, names = sys.argv[1], sys.argv[2:]
before = {g["guest"]: g for g in json.load(open(d + "/report/audit-before.json"))["guests"]}
after = {g["guest"]: g for g in json.load(open(d + "/report/audit.json"))["guests"]}
rollout = {r["guest"]: r for r in json.load(open(d + "/report/rollout.json"))["summary"]}
def prompt(g, when):
    r = json.load(open("%s/logs/console-%s-%s.json" % (d, when, g)))
    return "login: seen" if r.get("matched") else "silent"
rows = [("guest", "console before", "drift before", "power cycle", "s to login:", "drift after", "console after")]
for g in names:
    r = rollout.get(g, {})
    s = r.get("seconds_to_prompt")
    rows.append((g, prompt(g, "before"), "%d findings" % len(before[g]["findings"]), r.get("restart", "?"),
                 "%.1f" % s if s is not None else "-", "%d findings" % len(after[g]["findings"]), prompt(g, "after")))
w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
for i, r in enumerate(rows):
    print("  " + " | ".join(str(c).ljust(w[j]) for j, c in enumerate(r)))
    if i == 0:
        print("  " + "-+-".join("-" * x for x in w))
PY
note "reports: $DIR/report/{audit-before,audit,rollout}.{md,json}; logs: $DIR/logs/"
note "done in $((SECONDS - t0)) s. 'make demo-clean' removes the lab."
pwfile=${TTYFLEET_CACHE:-/var/cache/ttyfleet}/ssh/console_password
printf '\nOpen a serial console yourself (leave it with Ctrl-]):\n'
for g in "${names[@]}"; do printf '  virsh -c qemu:///system console %s\n' "$g"; done
printf 'Press Enter for a fresh login: prompt; log in as root or ops with the lab password, kept in %s\n' "$pwfile"
printf '(read it with: cat %s). ssh works too: see the guests in %s/inventory.yml.\n' "$pwfile" "$DIR"
