#!/usr/bin/env bash
# A lab of stock guests for the fleet playbooks (make demo, bench/rollout.sh), outside Molecule.
# It runs the Molecule scenarios' own create/destroy playbooks (molecule/shared/), so lab guests are built,
# networked (ssh forward on 127.0.0.1 only) and removed exactly as in the tests, then writes a fleet inventory
# in the shape docs/fleet.md describes.
#
# usage: lab.sh create DIR NAME:FLAVOUR...   boot stock guests; writes DIR/inventory.yml
#        lab.sh destroy DIR                   remove the guests, their overlays and logs, and DIR
#        lab.sh names DIR                     the guests' names
# Needs the collection on ANSIBLE_COLLECTIONS_PATH (default: the Makefile's build dir, as `make sync` leaves it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The Makefile exports ANSIBLE_COLLECTIONS_PATH; run alone, use the Makefile's default build dir (BUILD).
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-${BUILD:-/var/tmp/ttyfleet-build-$(printf %s "$root" | md5sum | cut -c1-8)}}
if [[ ! -f $ANSIBLE_COLLECTIONS_PATH/ansible_collections/ttyfleet/serial_console/galaxy.yml ]]; then
  echo "$(basename "$0"): no collection under $ANSIBLE_COLLECTIONS_PATH: run 'make sync' first" >&2; exit 2
fi
export MOLECULE_PROJECT_DIRECTORY=$root
PY=${PY:-$root/.venv/bin/python}
PLAYBOOK=${ANSIBLE_PLAYBOOK:-$root/.venv/bin/ansible-playbook}

die() { echo "lab.sh: $*" >&2; exit 2; }

# The variables Molecule would give the shared playbooks: the platforms, and where instance files live.
molecule_vars() { # DIR NAME:FLAVOUR...
  local dir=$1; shift
  "$PY" - "$dir" "$@" <<'PY'
import json, sys
d, specs = sys.argv[1], sys.argv[2:]
platforms = []
for s in specs:
    name, _, flavour = s.partition(":")
    platforms.append({"name": name, "flavour": flavour or "bookworm", "groups": ["guests"]})
json.dump({"molecule_yml": {"platforms": platforms}, "molecule_ephemeral_directory": d,
           "molecule_instance_config": d + "/instances.yml"}, open(d + "/lab.json", "w"), indent=1)
PY
}

write_inventory() { # DIR
  "$PY" - "$1" "$PY" <<'PY'
import sys, yaml
d, py = sys.argv[1], sys.argv[2]
instances = yaml.safe_load(open(d + "/instances.yml")) or []
guests = {i["instance"]: {"ansible_host": i["address"], "ansible_port": i["port"]} for i in instances}
inventory = {"all": {"children": {
    "hypervisors": {"hosts": {"lab-hypervisor": {"ansible_connection": "local", "ansible_python_interpreter": py}}},
    "guests": {
        "vars": {
            "serial_console_hypervisor": "lab-hypervisor",
            "serial_console_uri": "qemu:///system",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": instances[0]["identity_file"] if instances else "",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_pipelining": True,
        },
        "hosts": guests,
    },
}}}
with open(d + "/inventory.yml", "w") as f:
    f.write("# Written by scripts/lab.sh: one local hypervisor, stock guests reached over ssh on 127.0.0.1.\n")
    yaml.safe_dump(inventory, f, default_flow_style=False, sort_keys=False)
PY
}

cmd=${1:-}; dir=${2:-}
[[ -n $cmd && -n $dir ]] || die "usage: lab.sh create|destroy|names DIR [NAME:FLAVOUR...]"
case $cmd in
  create)
    shift 2
    (($#)) || die "create needs at least one NAME:FLAVOUR"
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    molecule_vars "$dir" "$@"
    "$PLAYBOOK" "$root/molecule/shared/create.yml" -e "@$dir/lab.json"
    write_inventory "$dir"
    echo "lab.sh: inventory $dir/inventory.yml"
    ;;
  destroy)
    [[ -f $dir/lab.json ]] || { echo "lab.sh: no lab in $dir"; exit 0; }
    dir=$(cd "$dir" && pwd)
    "$PLAYBOOK" "$root/molecule/shared/destroy.yml" -e "@$dir/lab.json"
    rm -rf "$dir"
    ;;
  names)
    "$PY" -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["molecule_yml"]["platforms"]))' "$dir/lab.json"
    ;;
  *) die "unknown command $cmd" ;;
esac
