#!/usr/bin/env bash
# The collection's docs site, the way the Ansible docs build it (`make docs`, `make docs-lint`):
#   lint   antsibull-docs lint-collection-docs --plugin-docs (every module, plugin and role doc, extra docs, links)
#   build  antsibull-docs sphinx-init + build.sh (antsibull-docs collection, then Sphinx with warnings as errors)
#          into $BUILD/docs-site/build/html, offline (a local intersphinx inventory for docs.ansible.com links);
#          then headless Chromium opens the domain_serial page: --dump-dom must hold the options table with every
#          option of the module, and the screenshot ($BUILD/docs-site/domain_serial.png) must show that table.
set -euo pipefail
STEP=docs
# shellcheck source=tests/tool_step.sh
source "$(dirname "$0")/../tool_step.sh"
mode=${1:-build}
export PATH=$tools/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$BUILD

if [[ $mode == lint ]]; then
  (cd "$COLL" && antsibull-docs lint-collection-docs --plugin-docs .) || fail "antsibull-docs lint-collection-docs --plugin-docs"
  log "lint-collection-docs --plugin-docs: OK"
  exit 0
fi

site=$BUILD/docs-site
rm -rf "$site"; mkdir -p "$BUILD"; mkdir -m 0700 "$site"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" --project ttyfleet.serial_console \
  --title "ttyfleet.serial_console" --copyright "ttyfleet.serial_console contributors" ttyfleet.serial_console >/dev/null ||
  fail "antsibull-docs sphinx-init"
# offline: links to docs.ansible.com resolve from a local inventory instead of a download
python3 "$ROOT/tests/docs/ansible_inventory.py" "$site/ansible_devel.inv" 2>/dev/null ||
  "$tools/bin/python" "$ROOT/tests/docs/ansible_inventory.py" "$site/ansible_devel.inv"
cat >>"$site/conf.py" <<PYCONF

# ttyfleet: build offline; references to the Ansible docs resolve through a local inventory
intersphinx_mapping = {'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '$site/ansible_devel.inv')}
PYCONF
log "build the site (antsibull-docs collection, sphinx-build -W)"
start=$SECONDS
(cd "$site" && bash build.sh >"$site/build.log" 2>&1) || { tail -n 40 "$site/build.log" >&2; fail "the docs site does not build (log: $site/build.log)"; }
html=$site/build/html
page=$html/collections/ttyfleet/serial_console/domain_serial_module.html
[[ -f $page ]] || fail "no $page"
log "site built in $((SECONDS - start)) s: $html/index.html"

# every module and role has its page
for m in "$COLL"/plugins/modules/*.py; do
  n=$(basename "$m" .py); [[ $n == __init__ ]] && continue
  [[ -f $html/collections/ttyfleet/serial_console/${n}_module.html ]] || fail "no page for module $n"
done
for r in "$COLL"/roles/*/; do
  n=$(basename "$r")
  [[ -f $html/collections/ttyfleet/serial_console/${n}_role.html ]] || fail "no page for role $n"
done
[[ -f $html/collections/ttyfleet/serial_console/docsite/playbooks.html ]] || fail "no page for the playbooks (docs/docsite)"

"$VENV/bin/ansible-doc" --json ttyfleet.serial_console.domain_serial >"$site/domain_serial.json" || fail "ansible-doc domain_serial"
chrome() { chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-dev-shm-usage "$@" 2> >(grep -v -e dbus -e 'unexpected operator' >&2); }
chrome --dump-dom "file://$page" >"$site/domain_serial.dom.html" || fail "chromium --dump-dom"
# the same page with its option tables made invisible (layout unchanged): the screenshots must differ where the
# table is, which proves the screenshot shows it
sed 's|</head>|<style>table.ansible-option-table{visibility:hidden}</style></head>|' "$page" >"${page%.html}.notable.html"
for p in domain_serial domain_serial.notable; do
  src=$html/collections/ttyfleet/serial_console/${p/domain_serial/domain_serial_module}.html
  chrome --window-size=1280,2400 --screenshot="$site/$p.png" "file://$src" >/dev/null || fail "chromium --screenshot $p"
done
rm -f "${page%.html}.notable.html"
PYTHONPATH=$BUILD "$VENV/bin/python" "$ROOT/tests/docs/check_page.py" "$site/domain_serial.dom.html" "$site/domain_serial.json" \
  "$site/domain_serial.png" "$site/domain_serial.notable.png" 1280 2400 || fail "the domain_serial page (see above)"
log "OK: screenshot $site/domain_serial.png"
