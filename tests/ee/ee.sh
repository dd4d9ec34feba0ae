#!/usr/bin/env bash
# The execution environment, as far as it can be checked without a container engine (`make ee`):
#  1. the built tarball, installed, is introspected by ansible-builder exactly as an image build would: the Python
#     and system requirements it yields are exactly meta/ee-requirements.txt and meta/ee-bindep.txt (nothing from
#     the developer requirements.txt, which the tarball must not carry);
#  2. `ansible-builder create` on the example execution-environment.yml writes a build context ($BUILD/ee/context)
#     whose Containerfile installs the collection from the tarball and introspects it.
set -euo pipefail
STEP=ee
# shellcheck source=tests/tool_step.sh
source "$(dirname "$0")/../tool_step.sh"
work=$BUILD/ee
rm -rf "$work"; mkdir -p "$work/ee-build" "$work/collections"
"$VENV/bin/ansible-galaxy" collection build "$COLL" --output-path "$work/ee-build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "ansible-galaxy collection build"; }
version=$("$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$COLL/galaxy.yml")
tarball=$work/ee-build/ttyfleet-serial_console-$version.tar.gz
[[ -f $tarball ]] || fail "no $tarball"
content=$(tar -tzf "$tarball") # captured: grep -q would end the pipe early (SIGPIPE under pipefail)
if grep -qxE '(\./)?(requirements\.txt|bindep\.txt|execution-environment\.yml)' <<<"$content"; then
  fail "the tarball ships a root requirements.txt/bindep.txt/execution-environment.yml (galaxy.yml build_ignore)"
fi
"$VENV/bin/ansible-galaxy" collection install --offline --force -p "$work/collections" "$tarball" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "install"; }

log "ansible-builder introspect on the installed collection"
"$tools/bin/ansible-builder" introspect --sanitize --write-pip "$work/pip.txt" --write-bindep "$work/bindep.txt" \
  "$work/collections" >"$work/introspect.log" 2>&1 || { cat "$work/introspect.log" >&2; fail "ansible-builder introspect"; }
"$VENV/bin/python" - "$work/pip.txt" "$work/bindep.txt" "$COLL/meta/ee-requirements.txt" "$COLL/meta/ee-bindep.txt" <<'PY' || fail "the EE's requirements are not exactly the collection's runtime dependencies"
import re, sys
def reqs(path):
    # one requirement per line; ansible-builder appends "  # from collection NAME"
    return sorted(re.sub(r"\s+#.*$", "", l).strip() for l in open(path) if l.strip() and not l.lstrip().startswith("#"))
got_pip, got_sys, want_pip, want_sys = (reqs(p) for p in sys.argv[1:])
ok = True
for kind, got, want in (("python", got_pip, want_pip), ("system", got_sys, want_sys)):
    if got != want:
        ok = False
        print("[ee]   %s: introspect gives %s, the collection declares %s" % (kind, got, want), file=sys.stderr)
    else:
        print("[ee] %s requirements: %s" % (kind, ", ".join(got)), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
for f in pip.txt bindep.txt; do
  grep -q "# from collection ttyfleet.serial_console" "$work/$f" || fail "$f does not say the requirements come from ttyfleet.serial_console"
done

log "ansible-builder create (the build context; building the image needs a container engine)"
cp "$ROOT/execution-environment.yml" "$work/"
grep -q "ttyfleet-serial_console-$version.tar.gz" "$work/execution-environment.yml" ||
  fail "execution-environment.yml names another tarball than ttyfleet-serial_console-$version.tar.gz (galaxy.yml's version)"
(cd "$work" && "$tools/bin/ansible-builder" create -f execution-environment.yml --context context --output-filename Containerfile >"$work/create.log" 2>&1) ||
  { cat "$work/create.log" >&2; fail "ansible-builder create"; }
cf=$work/context/Containerfile
[[ -f $cf ]] || fail "no Containerfile in $work/context"
[[ -f $work/context/_build/collections/ttyfleet-serial_console-$version.tar.gz ]] || fail "the context lacks the collection tarball"
grep -q "ansible-galaxy collection install" "$cf" || fail "the Containerfile does not install the collections"
grep -q "introspect" "$cf" || fail "the Containerfile does not introspect the collections' requirements"
grep -q "/build/collections/ttyfleet-serial_console-$version.tar.gz" "$work/context/_build/requirements.yml" ||
  fail "_build/requirements.yml does not name the tarball"
# the collection's dependencies have one home (meta/): the EE definition must not repeat them
if [[ -e $work/context/_build/requirements.txt || -e $work/context/_build/bindep.txt ]]; then
  fail "execution-environment.yml repeats Python/system dependencies that meta/execution-environment.yml declares"
fi
log "OK: context in $work/context"
