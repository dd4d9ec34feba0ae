#!/usr/bin/env bash
# Hostile input, the whole target: every case file here (*.yml at the top level: host.yml first, for the host
# modules, then guest.yml and any other, for the guest modules and roles; helpers live in *_tasks/ directories)
# runs with ansible-playbook -vvv, its whole output captured to a log. Then, over all logs:
#  - each case file's play passed (it asserts refused-naming-the-option or safe, nothing written, nothing run);
#  - no Python traceback and no MODULE FAILURE anywhere;
#  - no planted secret anywhere, nor an obvious derivative of it: the secret in any case, reversed, 6-character
#    pieces of it (what a cut before redaction leaves), hex, base64, URL/JSON/HTML escapes, md5/sha1/sha256/sha512;
#  - the counts each case file prints ("<side> side: N hostile cases tried, R refused, S safe, B bad"), summed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/ttyfleet-hostile.XXXXXX)  # mktemp -d makes it 0700: the logs hold console tails
trap 'rm -rf "$logs"' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
# The secrets the case files plant (one per line in secrets.txt too, if a case file plants its own).
secrets=("S3cr3t!x")
if [[ -f $here/secrets.txt ]]; then
  while IFS= read -r s; do [[ -n $s && $s != \#* ]] && secrets+=("$s"); done <"$here/secrets.txt"
fi
fails=0
die() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }

books=()
failed_books=()
[[ -f $here/host.yml ]] && books+=("$here/host.yml")
for f in "$here"/*.yml; do
  [[ $f == "$here/host.yml" || $(basename "$f") == _* ]] || books+=("$f")
done
[[ ${#books[@]} -gt 0 ]] || { echo "no case files in $here"; exit 1; }

for book in "${books[@]}"; do
  name=$(basename "$book" .yml)
  echo "=== $name.yml (log: $logs/$name.log)"
  start=$SECONDS
  if ansible-playbook -vvv -i "$here/inventory" "$book" >"$logs/$name.log" 2>&1; then
    echo "    passed in $((SECONDS - start)) s"
  else
    die "$name.yml failed"
    failed_books+=("$name")
  fi
done

# Anything that looks like a crash, in any log.
if grep -n -E 'Traceback \(most recent call last\)|MODULE FAILURE' "$logs"/*.log >"$logs/crashes" 2>/dev/null; then
  die "a traceback or module crash in the output:"; head -20 "$logs/crashes" >&2
fi

# Every planted secret and its obvious derivatives (computed here, never written to a log).
if python3 - "$logs" "${secrets[@]}" <<'PY'
import base64, hashlib, html, json, pathlib, sys, urllib.parse
logdir, secrets = pathlib.Path(sys.argv[1]), sys.argv[2:]
text = "\n".join(p.read_text(errors="replace") for p in sorted(logdir.glob("*.log")))
found = []
for s in secrets:
    b = s.encode()
    forms = {"itself": s, "upper": s.upper(), "lower": s.lower(), "reversed": s[::-1], "hex": b.hex(),
             "HEX": b.hex().upper(), "url": urllib.parse.quote(s, safe=""), "url+": urllib.parse.quote_plus(s),
             "json": json.dumps(s, ensure_ascii=True)[1:-1], "json-u": "".join("\\u%04x" % ord(c) for c in s),
             "html": html.escape(s), "html-dec": "".join("&#%d;" % ord(c) for c in s)}
    for name in ("b64encode", "urlsafe_b64encode"):
        enc = getattr(base64, name)(b).decode()
        forms[name] = enc
        forms[name + "-nopad"] = enc.rstrip("=")
    for algo in ("md5", "sha1", "sha256", "sha512"):
        forms[algo] = hashlib.new(algo, b).hexdigest()
    for i in range(len(s) - 5):
        forms["piece %d" % i] = s[i:i + 6]
    lowered = text.lower()
    for name, form in forms.items():
        digits = name in ("hex", "HEX") or name.startswith(("md5", "sha"))  # hex digits in either case
        if form.lower() in lowered if digits else form in text:
            found.append("secret #%d as %s" % (secrets.index(s), name))
for f in found:
    print("  found:", f, file=sys.stderr)
print("checked %d secrets in %d forms each, over %d bytes of -vvv output: %s"
      % (len(secrets), len(forms), len(text), "FOUND %d" % len(found) if found else "none found"))
sys.exit(1 if found else 0)
PY
then
  # The logs hold no secret: the failed tasks may be shown.
  for name in "${failed_books[@]}"; do
    echo "--- $name.yml: failed tasks" >&2
    grep -A12 -E '^fatal:|^failed:|\[ERROR\]' "$logs/$name.log" | grep -v '^\s*$' | head -80 >&2 || true
  done
else
  die "a secret or a derivative of it is in the output (see above)"
fi

# The counts each case file printed, summed.
python3 - "$logs" <<'PY'
import pathlib, re, sys
tried = refused = safe = bad = 0
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.log")):
    for m in re.finditer(r'"msg": "(\w+) side: (\d+) hostile cases tried, (\d+) refused, (\d+) safe, (\d+) bad"',
                         p.read_text(errors="replace")):
        print("%s side (%s): %s tried, %s refused, %s safe, %s bad" % (m.group(1), p.stem, *m.groups()[1:]))
        tried, refused, safe, bad = (tried + int(m.group(2)), refused + int(m.group(3)), safe + int(m.group(4)),
                                     bad + int(m.group(5)))
print("hostile input, all: %d cases tried, %d refused, %d safe, %d bad" % (tried, refused, safe, bad))
PY

if [[ $fails -gt 0 ]]; then
  echo "hostile_input: $fails check(s) failed"
  exit 1
fi
echo "hostile_input: passed"
