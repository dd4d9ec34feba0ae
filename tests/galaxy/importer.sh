#!/usr/bin/env bash
# Galaxy's own import checks on the built tarball (`make importer`): galaxy-importer (its own venv, from
# scripts/tool-venv.sh) with tests/galaxy/importer.cfg (ansible-test off: no container engine; ansible-doc,
# ansible-lint's production profile and the changelog check on). Zero errors; every warning is either in
# tests/galaxy/importer-warnings.txt with its reason or fails the run. The log: $BUILD/importer/importer.log.
set -euo pipefail
STEP=importer
# shellcheck source=tests/tool_step.sh
source "$(dirname "$0")/../tool_step.sh"
out=$BUILD/importer
rm -rf "$out"; mkdir -p "$out"
"$VENV/bin/ansible-galaxy" collection build "$COLL" --output-path "$out" >"$out/build.log" 2>&1 ||
  { cat "$out/build.log" >&2; fail "ansible-galaxy collection build"; }
tarball=$(ls "$out"/ttyfleet-serial_console-*.tar.gz)
log "galaxy-importer $("$tools/bin/python" -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))') on $(basename "$tarball") (ansible-lint runs inside: about a minute on an idle machine)"
start=$SECONDS
# ansible-doc and ansible-lint are looked up on PATH: the importer venv's own, not the project's
(cd "$out" && env PATH="$tools/bin:$PATH" GALAXY_IMPORTER_CONFIG="$ROOT/tests/galaxy/importer.cfg" \
  "$tools/bin/python" -m galaxy_importer.main "$tarball" >"$out/importer.log" 2>&1) ||
  { cat "$out/importer.log" >&2; fail "galaxy-importer exited non-zero"; }
log "galaxy-importer ran in $((SECONDS - start)) s; log: $out/importer.log"

[[ -f $out/importer_result.json ]] || { cat "$out/importer.log" >&2; fail "the importer wrote no importer_result.json"; }
"$tools/bin/python" - "$out/importer.log" "$ROOT/tests/galaxy/importer-warnings.txt" "$COLL" "$out/importer_result.json" <<'PY' || fail "see above"
import json, pathlib, re, sys
log_text = pathlib.Path(sys.argv[1]).read_text()
allowed = [re.compile(l) for l in pathlib.Path(sys.argv[2]).read_text().splitlines() if l.strip() and not l.startswith("#")]
coll = pathlib.Path(sys.argv[3])
lines = log_text.splitlines()
errors = [l for l in lines if l.startswith("ERROR")]
warnings = [l[len("WARNING: "):] if l.startswith("WARNING: ") else l for l in lines if l.startswith("WARNING")]
unexplained = [w for w in warnings if not any(a.search(w) for a in allowed)]
ok = "Importer processing completed successfully" in log_text
# the import result: everything the collection ships must be in it, every module with its docs
result = json.loads(pathlib.Path(sys.argv[4]).read_text())
contents = {(c["content_type"], c["name"]) for c in result.get("contents", [])}
want = {("module", p.stem) for p in (coll / "plugins/modules").glob("*.py") if p.stem != "__init__"}
want |= {("role", p.name) for p in (coll / "roles").iterdir() if p.is_dir()}
want |= {("playbook", p.name) for p in (coll / "playbooks").glob("*.yml")}
missing = sorted(want - contents)
docs = {c["content_name"]: c for c in (result.get("docs_blob") or {}).get("contents", [])}
undocumented = sorted(n for t, n in want if t == "module" and not (docs.get(n) or {}).get("doc_strings"))
print("[importer] summary: %d error(s), %d warning(s) (%d explained in importer-warnings.txt), %d content objects, "
      "requires_ansible %s, %d/%d modules with docs" % (len(errors), len(warnings), len(warnings) - len(unexplained),
      len(contents), result.get("requires_ansible"), len(want & {("module", n) for n in docs}) - len(undocumented),
      len([w for w in want if w[0] == "module"])), file=sys.stderr)
problems = errors + ["unexplained warning: " + w for w in unexplained]
if not ok:
    problems.append("the importer did not say 'Importer processing completed successfully'")
if missing:
    problems.append("not found by the importer: %s" % missing)
if undocumented:
    problems.append("modules without doc strings in the import: %s" % undocumented)
for p in problems:
    print("[importer]   " + p[:2000], file=sys.stderr)
sys.exit(1 if problems else 0)
PY
log "OK"
