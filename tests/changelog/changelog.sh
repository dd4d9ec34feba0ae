#!/usr/bin/env bash
# The changelog, the way antsibull-changelog's convention wants it (called by `make changelog` / `make changelog-test`).
#   check     lint the fragments; release galaxy.yml's version in a scratch copy of the synced collection and require
#             every module, role and playbook to appear in its "New ..." section and no fragment to announce one
#   generate  the same, then copy the scratch release's CHANGELOG.rst/.md to the checkout (a preview of the next
#             release: the checkout's changelog.yaml and fragments stay as they are until the real release)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COLL=${COLL:?COLL= the synced collection (make sync)}
mode=${1:-check}
log() { printf '[changelog] %s\n' "$*" >&2; }
fail() { printf '[changelog] FAIL: %s\n' "$*" >&2; exit 1; }

cd "$COLL"
antsibull-changelog lint || fail "antsibull-changelog lint"
log "lint: OK ($(find changelogs/fragments -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l) fragments)"

# Fragments describe changes to what exists; new modules, roles and playbooks are listed by the release itself.
if hits=$(grep -rniE '(^|[-" ])new (module|modules|role|roles|playbook|playbooks)\b' changelogs/fragments); then
  fail "a fragment announces a new module/role/playbook (antsibull-changelog lists those from the release):
$hits"
fi

version=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)
scratch=$(mktemp -d /tmp/ttyfleet-changelog.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/ansible_collections/ttyfleet"
cp -a "$COLL" "$scratch/ansible_collections/ttyfleet/serial_console"
s=$scratch/ansible_collections/ttyfleet/serial_console
(cd "$s" && ANSIBLE_COLLECTIONS_PATH=$scratch antsibull-changelog release --version "$version" --date "$(date -u +%F)") ||
  fail "antsibull-changelog release --version $version (scratch copy)"
[[ -f $s/CHANGELOG.rst && -f $s/CHANGELOG.md ]] || fail "the release wrote no CHANGELOG.rst/.md"
if [[ $mode == generate ]]; then
  cp "$s/CHANGELOG.rst" "$s/CHANGELOG.md" "$ROOT/"
  log "wrote $ROOT/CHANGELOG.rst and CHANGELOG.md (release $version as it would be cut today)"
fi

python3 - "$s" "$version" <<'PY' || fail "the release does not list everything the collection ships"
import pathlib, sys, yaml
root, version = pathlib.Path(sys.argv[1]), sys.argv[2]
rel = yaml.safe_load((root / "changelogs/changelog.yaml").read_text())["releases"][version]
modules = sorted(p.stem for p in (root / "plugins/modules").glob("*.py") if p.stem != "__init__")
roles = sorted(p.parent.parent.name for p in (root / "roles").glob("*/meta/argument_specs.yml"))
all_roles = sorted(p.name for p in (root / "roles").iterdir() if p.is_dir())
playbooks = sorted(p.stem for p in (root / "playbooks").glob("*.yml"))
got_mod = sorted(m["name"] for m in rel.get("modules", []))
got_role = sorted(o["name"] for o in rel.get("objects", {}).get("role", []))
got_pb = sorted(o["name"] for o in rel.get("objects", {}).get("playbook", []))
errors = []
if got_mod != modules:
    errors.append(f"modules: release lists {got_mod}, plugins/modules has {modules}")
if roles != all_roles:
    errors.append(f"roles without meta/argument_specs.yml (antsibull-changelog cannot see them): {sorted(set(all_roles) - set(roles))}")
if got_role != all_roles:
    errors.append(f"roles: release lists {got_role}, roles/ has {all_roles}")
if got_pb != playbooks:
    errors.append(f"playbooks: release lists {got_pb}, playbooks/ has {playbooks} (announce new ones in a fragment's 'add object.playbook' section)")
for m in rel.get("modules", []) + [o for v in rel.get("objects", {}).values() for o in v]:
    if not m.get("description"):
        errors.append(f"{m['name']}: no description")
md = (root / "CHANGELOG.md").read_text()
for section in ("New Modules", "New Roles", "New Playbooks"):
    if section not in md:
        errors.append(f"CHANGELOG.md has no '{section}' section")
if errors:
    errors.append("(a module or role is listed by the release whose version equals its version_added, in DOCUMENTATION or "
                  "in meta/argument_specs.yml; nothing is released yet, so everything new says version_added: %s)" % version)
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"[changelog] release {version}: {len(got_mod)} modules, {len(got_role)} roles, {len(got_pb)} playbooks listed", file=sys.stderr)
PY

log "OK"
