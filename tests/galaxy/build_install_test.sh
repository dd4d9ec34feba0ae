#!/usr/bin/env bash
# Build the collection tarball from the synced tree, install it into an empty collections path, and prove that the
# installed copy works on its own: every module has docs, and modules run for real. Called by
# `make galaxy-install-test` (after `make sync`); BUILD selects the synced tree like the Makefile does.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
VENV=${VENV:-$ROOT/.venv}
COLL=$BUILD/ansible_collections/ttyfleet/serial_console
PY=$VENV/bin/python
export PATH=$VENV/bin:$PATH

fail() { printf '[galaxy-install-test] FAIL: %s\n' "$*" >&2; exit 1; }
log() { printf '[galaxy-install-test] %s\n' "$*" >&2; }

[[ -f $COLL/galaxy.yml ]] || fail "no synced collection at $COLL (run: make sync BUILD=$BUILD)"

work=$(mktemp -d /tmp/ttyfleet-galaxy.XXXXXX)
trap 'rm -rf "$work"' EXIT
dist=$work/dist
installed=$work/collections
neutral=$work/elsewhere # an empty cwd: no adjacent collections, not inside any ansible_collections tree
mkdir -p "$dist" "$installed" "$neutral"

log "build from $COLL"
ansible-galaxy collection build "$COLL" --output-path "$dist" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "ansible-galaxy collection build"; }
version=$("$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$COLL/galaxy.yml")
tarball=$dist/ttyfleet-serial_console-$version.tar.gz
[[ -f $tarball ]] || fail "expected $tarball, got: $(ls "$dist")"

log "check the tarball's content"
tar -tzf "$tarball" >"$work/content.txt"
if bad=$(grep -E '(^|/)\.venv(/|$)|^build(/|$)|(^|/)\.git(/|$)|(^|/)__pycache__(/|$)|(^|/)\.(pytest|ruff|mypy)_cache(/|$)|(^|/)\.(cache|ansible|tox|nox)(/|$)|^tests/output(/|$)|^bench/results(/|$)|\.pyc$|\.tar\.gz$' "$work/content.txt"); then
  fail "the tarball carries files that must not ship:
$bad"
fi
for must in MANIFEST.json FILES.json README.md meta/runtime.yml plugins/module_utils/_libvirt.py; do
  grep -qxF "$must" "$work/content.txt" || fail "the tarball lacks $must"
done
mapfile -t modules < <(cd "$COLL/plugins/modules" && for f in *.py; do [[ $f == __init__.py ]] || echo "${f%.py}"; done)
((${#modules[@]})) || fail "no modules under plugins/modules"
for m in "${modules[@]}"; do
  grep -qxF "plugins/modules/$m.py" "$work/content.txt" || fail "the tarball lacks plugins/modules/$m.py"
done

# From here on, only the installed copy may be visible to Ansible: not the checkout, not the build tree, not a
# copy someone installed into ~/.ansible/collections (which would also make `install` say "nothing to do").
cd "$neutral"
unset ANSIBLE_COLLECTIONS_PATHS
export ANSIBLE_COLLECTIONS_PATH=$installed
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

log "install $(basename "$tarball") into $installed"
ansible-galaxy collection install --offline --force -p "$installed" "$tarball" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "ansible-galaxy collection install"; }
[[ -f $installed/ansible_collections/ttyfleet/serial_console/MANIFEST.json ]] ||
  { cat "$work/install.log" >&2; fail "ansible-galaxy collection install did not install into $installed"; }
export ANSIBLE_PYTHON_INTERPRETER=$PY
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
inst=$installed/ansible_collections/ttyfleet/serial_console

ansible-galaxy collection list ttyfleet.serial_console --format json >"$work/list.json" 2>/dev/null ||
  fail "ansible-galaxy collection list does not see the installed collection"
"$PY" - "$work/list.json" "$installed/ansible_collections" "$version" <<'PYEOF' || fail "the collection is visible from somewhere other than the installed copy"
import json, sys
listing = json.load(open(sys.argv[1]))
paths = sorted(listing)
assert paths == [sys.argv[2]], paths
assert listing[sys.argv[2]]["ttyfleet.serial_console"]["version"] == sys.argv[3], listing
PYEOF

log "ansible-doc for ${#modules[@]} modules: ${modules[*]}"
ansible-doc -t module -l ttyfleet.serial_console --json >"$work/doclist.json" || fail "ansible-doc -l"
for m in "${modules[@]}"; do
  ansible-doc --json "ttyfleet.serial_console.$m" >"$work/doc-$m.json" 2>"$work/doc-$m.err" ||
    { cat "$work/doc-$m.err" >&2; fail "ansible-doc ttyfleet.serial_console.$m"; }
  "$PY" - "$work/doc-$m.json" "$work/doclist.json" "$m" "$inst" <<'PYEOF' || fail "ansible-doc ttyfleet.serial_console.$m: wrong or incomplete"
import json, sys
doc_file, list_file, module, inst = sys.argv[1:]
fqcn = "ttyfleet.serial_console." + module
data = json.load(open(doc_file))[fqcn]
assert fqcn in json.load(open(list_file)), "not listed by ansible-doc -l"
assert data["doc"]["filename"].startswith(inst + "/"), data["doc"]["filename"]
assert data["doc"]["short_description"] and data["doc"]["description"], "no description"
assert data["examples"] and data["return"] is not None, "no EXAMPLES or RETURN"
PYEOF
  # the plain-text rendering must work too (it is what users type)
  ansible-doc "ttyfleet.serial_console.$m" >/dev/null 2>&1 || fail "ansible-doc ttyfleet.serial_console.$m (text)"
done

run_module() { # module args [ansible options] -> the module's JSON result on stdout (from the minimal callback)
  local module=$1 args=$2 out rc=0; shift 2
  out=$(ANSIBLE_STDOUT_CALLBACK=minimal ansible localhost -c local -m "ttyfleet.serial_console.$module" -a "$args" "$@" 2>"$work/adhoc.err") || rc=$?
  # "localhost | SUCCESS => {...}" / "localhost | CHANGED => {...}" / "localhost | FAILED! => {...}"
  "$PY" -c 'import json, sys; t = sys.stdin.read(); print(json.dumps(json.JSONDecoder().raw_decode(t[t.index(" => ") + 4:])[0]))' <<<"$out" ||
    { printf '%s\n' "$out" >&2; cat "$work/adhoc.err" >&2; fail "ansible ... -m $module printed no result"; }
  return $rc
}

log "run domain_console_info from the installed copy against test:///default"
run_module domain_console_info "uri=test:///default all_domains=true" >"$work/info.json" || true
"$PY" - "$work/info.json" <<'PYEOF' || fail "domain_console_info from the installed copy: unexpected result (see above)"
import json, sys
out = json.load(open(sys.argv[1]))
res = out
if res.get("failed"):
    print(json.dumps(res, indent=1)[:2000], file=sys.stderr)
assert not res.get("failed"), res.get("msg")
assert res["changed"] is False
(test,) = res["domains"]
assert test["name"] == "test" and test["uuid"] == "6695eb01-f6a4-8304-79aa-97f2502e193f", test
assert test["state"] == "running" and test["active"] is True and test["persistent"] is True, test
assert test["serials"] == [] and test["consoles"] == [] and test["vnc"] is None, test
assert test["restart_pending"] is False, test
PYEOF

log "an unknown domain fails clearly from the installed copy"
run_module domain_console_info "uri=test:///default name=no-such-domain" >"$work/err.json" && fail "an unknown domain did not fail"
"$PY" - "$work/err.json" <<'PYEOF' || fail "domain_console_info: unexpected failure message"
import json, sys
res = json.load(open(sys.argv[1]))
assert res["msg"] == "domain not found on test:///default: no-such-domain", res
PYEOF

if [[ -f $inst/plugins/modules/domain_serial.py ]]; then
  log "run domain_serial in check mode from the installed copy against test:///default"
  run_module domain_serial "uri=test:///default name=test" --check --diff >"$work/serial.json" || true
  "$PY" - "$work/serial.json" <<'PYEOF' || fail "domain_serial --check from the installed copy: unexpected result"
import json, sys
res = json.load(open(sys.argv[1]))
assert not res.get("failed"), res.get("msg")
# the built-in test domain has no serial port: check mode must predict the change and write nothing
assert res["changed"] is True, res
assert [d["name"] for d in res["domains"]] == ["test"], res["domains"]
PYEOF
fi

log "OK: $(basename "$tarball") builds, installs and works from $installed alone (${#modules[@]} modules)"
