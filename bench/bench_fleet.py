# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet benchmark (issue 11): the host-side audit of 20 hypervisors x 500 domains through libvirt_guests.

Defines 10,000 diskless domains ``tf-flb-hNN-NNNN`` on one libvirtd (defined, never started; every 2nd one has a
pty serial with its console, every 3rd VNC on 127.0.0.1, every 50th VNC on 0.0.0.0), and an inventory file of 20
hypervisors ``hv01`` ... ``hv20`` that split them by ``domain_regex``. At 1,000 (20 x 50) and 10,000 (20 x 500)
domains it times, each as one process tree, wall clock and peak RSS of its largest process:

  (A) the inventory alone: ``ansible-inventory --list`` (20 connections, every domain's INACTIVE|SECURE XML
      summarised by the pure parser of domain_console_info);
  (B) the host-side audit per hypervisor: ``ansible-playbook bench/fleet_host_audit.yml`` over that inventory
      (the audit's one module call per hypervisor, domain_console_info with drift, then every domain's findings
      from the findings table);
      the finding counts are checked against the planted drift;
  (C) the shipped ``ttyfleet.serial_console.audit`` over the same inventory (its host phase per hypervisor, the
      guest phase for running guests only: none here), every guest counted in audit.json and audit.junit.xml and
      the finding counts checked like (B)'s;
  (D) community.libvirt.virt ``command: get_xml`` in a loop, one module call per domain, on a sample,
      extrapolated to 1,000.

All domains are undefined at the end, also on Ctrl-C or SIGTERM. Not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import libvirt

PREFIX = "tf-flb-"
HYPERVISORS = 20
HERE = os.path.dirname(os.path.abspath(__file__))

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>{devices}</devices>
</domain>"""
SERIAL = ("<serial type='pty'><target port='0'/></serial>"
          "<console type='pty'><target type='serial' port='0'/></console>")


def log(msg):
    print("[bench-fleet %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def name(hv, i):
    return "%sh%02d-%04d" % (PREFIX, hv, i)


def devices(i):
    dev = SERIAL if i % 2 == 0 else ""
    if i % 50 == 7:
        dev += "<graphics type='vnc' autoport='yes' listen='0.0.0.0'/>"
    elif i % 3 == 0:
        dev += "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
    return dev


def expected_findings(per_hv):
    """Finding counts the host-side audit must report for the first per_hv domains of each hypervisor."""
    counts = {"domain_not_running": 0, "serial_console": 0, "vnc": 0, "vnc_exposed": 0}
    for i in range(per_hv):
        counts["domain_not_running"] += 1
        counts["serial_console"] += i % 2 != 0
        if i % 50 == 7:
            counts["vnc_exposed"] += 1
        elif i % 3 != 0:
            counts["vnc"] += 1
    return {k: v * HYPERVISORS for k, v in counts.items() if v}


def cleanup(conn):
    gone = 0
    for d in conn.listAllDomains(0):
        if d.name().startswith(PREFIX):
            if d.isActive():
                d.destroy()
            d.undefine()
            gone += 1
    return gone


def define(conn, per_hv):
    start = time.monotonic()
    for hv in range(1, HYPERVISORS + 1):
        for i in range(per_hv):
            conn.defineXML(DOMAIN_XML.format(name=name(hv, i), devices=devices(i)))
    return time.monotonic() - start


LOADS = []  # (what, load average before, after): other sessions share this machine


def run(cmd, env, out=None, what=None):
    """(seconds, peak RSS MiB of the largest process of the tree, rc)."""
    before = os.getloadavg()[0]
    start = time.monotonic()
    with open(out or os.devnull, "w") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
    LOADS.append((what or os.path.basename(cmd[0]), before, os.getloadavg()[0]))
    return time.monotonic() - start, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def inventory(path, per_hv, uri, python):
    last = per_hv - 1
    # the first per_hv domains of each hypervisor: 0000 .. last, as a regex of its decimal digits
    hvs = []
    for hv in range(1, HYPERVISORS + 1):
        hvs.append({"name": "hv%02d" % hv, "uri": uri,
                    "domain_regex": "^%s(%s)$" % (re.escape(name(hv, 0)[:-4]), number_regex(last)),
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": python}})
    with open(path, "w") as f:
        json.dump({"plugin": "ttyfleet.serial_console.libvirt_guests", "hypervisors": hvs}, f, indent=1)


def number_regex(last):
    """A regex for the 4-digit numbers 0000 .. last (each hypervisor's first last+1 domains)."""
    if (last + 1) % 10 == 0:
        return "(?:%s)[0-9]" % "|".join("%03d" % j for j in range((last + 1) // 10))
    return "|".join("%04d" % i for i in range(last + 1))


ANSIBLE_PACKAGE = "ansible==12.3.0"  # PyPI's ansible package that ships community.libvirt 2.0.0


def community_libvirt(cache):
    """A collections path holding community.libvirt, from PyPI's ansible package (pip download, no install)."""
    import glob
    import zipfile

    if not os.path.isdir(os.path.join(cache, "py", "lxml")):
        # virt imports lxml; it goes beside the collection, not into the project's venv
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", os.path.join(cache, "py"), "lxml"],
                       check=True)
    if os.path.isdir(os.path.join(cache, "ansible_collections", "community", "libvirt")):
        return cache
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", cache, ANSIBLE_PACKAGE],
                   check=True)
    wheel = sorted(glob.glob(os.path.join(cache, "ansible-*.whl")))[-1]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(cache, [n for n in z.namelist() if n.startswith("ansible_collections/community/libvirt/")])
    os.unlink(wheel)
    return cache


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default="qemu:///system")
    ap.add_argument("--sizes", default="50,500", help="domains per hypervisor (20 hypervisors)")
    ap.add_argument("--audit-sizes", default="50,500", help="per-hypervisor sizes for (C), the shipped audit")
    ap.add_argument("--virt-sample", type=int, default=50, help="domains for (D); 0 skips it")
    ap.add_argument("--community-libvirt", default="/var/cache/ttyfleet/community-libvirt",
                    help="a collections path holding community.libvirt (fetched from PyPI's ansible package if empty)")
    ap.add_argument("--skip-host-audit", action="store_true", help="leave (B) out: (A) and (C) only")
    ap.add_argument("--audit-env", action="append", default=[], metavar="NAME=VALUE",
                    help="also run (C) with this controller setting (repeatable; e.g. ANSIBLE_INJECT_FACT_VARS=false)")
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--collections-path", required=True)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    audit_sizes = [int(s) for s in args.audit_sizes.split(",") if s]
    signal.signal(signal.SIGTERM, _on_signal)
    os.makedirs(args.results, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = tempfile.mkdtemp(prefix="bench-fleet-")
    py = sys.executable
    # the venv's tools, also when the venv is not activated (nohup, cron)
    env = dict(os.environ, PATH=os.path.dirname(py) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=args.collections_path, ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_PYTHON_INTERPRETER=py, ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_STDOUT_CALLBACK="default")
    conn = libvirt.open(args.uri)
    res = {"uri": args.uri, "hypervisors": HYPERVISORS, "forks": args.forks, "sizes": {}, "audit": {},
           "load_before": os.getloadavg()}
    try:
        log("removed %d leftover domains" % cleanup(conn))
        res["define_s"] = define(conn, max(sizes))
        log("defined %d domains in %.1f s" % (HYPERVISORS * max(sizes), res["define_s"]))
        for per_hv in sizes:
            n = per_hv * HYPERVISORS
            inv = os.path.join(work, "n%d.libvirt_guests.yml" % n)
            inventory(inv, per_hv, args.uri, py)
            r = res["sizes"][n] = {}
            listing = os.path.join(work, "inv-%d.json" % n)
            r["inventory_s"], r["inventory_rss_mib"], rc = run(
                ["ansible-inventory", "-i", inv, "--list", "--output", listing], env, what="(A) %d" % n)
            guests = len(json.load(open(listing)).get("guests", {}).get("hosts", [])) if rc == 0 else -1
            if guests != n:
                raise SystemExit("inventory of %d domains listed %d guests (rc %d)" % (n, guests, rc))
            log("%d: inventory %.1f s, %.0f MiB" % (n, r["inventory_s"], r["inventory_rss_mib"]))
            if args.skip_host_audit:
                continue
            out = os.path.join(work, "out-%d" % n)
            os.makedirs(out)
            r["host_audit_s"], r["host_audit_rss_mib"], rc = run(
                ["ansible-playbook", "-i", inv, "-f", str(args.forks), os.path.join(HERE, "fleet_host_audit.yml"),
                 "-e", "bench_uri=%s" % args.uri, "-e", "bench_out=%s" % out],
                env, os.path.join(work, "host-audit-%d.log" % n), what="(B) %d" % n)
            got = {}
            for f in os.listdir(out):
                for k, v in json.load(open(os.path.join(out, f)))["findings"].items():
                    got[k] = got.get(k, 0) + v
            r["findings"] = got
            if rc != 0 or got != expected_findings(per_hv):
                raise SystemExit("host audit of %d domains: rc %d, findings %s, expected %s (log %s)"
                                 % (n, rc, got, expected_findings(per_hv), work))
            log("%d: host-side audit %.1f s, %.0f MiB, findings %s"
                % (n, r["host_audit_s"], r["host_audit_rss_mib"], got))
        # (C) as shipped, then (C') with --audit-env's controller settings, if any
        audit_envs = [("audit", "", {})]
        if args.audit_env:
            audit_envs.append(("audit_env", "'", dict(e.split("=", 1) for e in args.audit_env)))
            res["audit_env_settings"] = audit_envs[1][2]
        for per_hv in audit_sizes:
            n = per_hv * HYPERVISORS
            inv = os.path.join(work, "a%d.libvirt_guests.yml" % n)
            inventory(inv, per_hv, args.uri, py)
            for key, mark, extra in audit_envs:
                tag = "%d%s" % (n, "-env" if mark else "")
                a = res.setdefault(key, {})[n] = {}
                # when each play and task started (bench/callback_plugins/task_clock.py): the play-by-play figures
                clock = os.path.join(work, "clock-%s.jsonl" % tag)
                timed = dict(env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                             ANSIBLE_CALLBACKS_ENABLED="task_clock", TASK_CLOCK_FILE=clock, **extra)
                a["s"], a["rss_mib"], a["rc"] = run(
                    ["ansible-playbook", "-i", inv, "-f", str(args.forks), "ttyfleet.serial_console.audit",
                     "-e", "serial_console_report_dir=%s/report-%s" % (work, tag), "-e", "serial_console_become=false"],
                    timed, os.path.join(work, "audit-%s.log" % tag), what="(C%s) %d" % (mark, n))
                if os.path.exists(clock):
                    with open(clock) as f:
                        a["clock"] = [json.loads(line) for line in f]
                report = json.load(open("%s/report-%s/audit.json" % (work, tag)))
                a["guests_reported"] = len(report["guests"])
                with open("%s/report-%s/audit.junit.xml" % (work, tag)) as f:
                    a["junit_testcases"] = f.read().count("<testcase ")
                a["findings"] = {k["kind"]: k["guests"] for k in report["summary"]["by_kind"]}
                if (a["rc"] != 0 or a["guests_reported"] != n or a["junit_testcases"] != n
                        or a["findings"] != expected_findings(per_hv)):
                    raise SystemExit("the audit%s of %d guests: rc %d, reported %d (JUnit %d), findings %s, expected "
                                     "%s (log %s)" % (mark, n, a["rc"], a["guests_reported"], a["junit_testcases"],
                                                      a["findings"], expected_findings(per_hv), work))
                log("%d: shipped audit%s %.1f s, %.0f MiB, every guest reported" % (n, mark, a["s"], a["rss_mib"]))
        if args.virt_sample:
            args.community_libvirt = community_libvirt(args.community_libvirt)
            names = [name(hv, i) for i in range(max(sizes)) for hv in range(1, HYPERVISORS + 1)]
            sample = names[:: max(1, len(names) // args.virt_sample)][: args.virt_sample]
            play = os.path.join(work, "virt.yml")
            with open(play, "w") as f:
                f.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                        "    - community.libvirt.virt: {command: get_xml, name: '{{ item }}', uri: '%s'}\n"
                        "      loop: %s\n" % (args.uri, json.dumps(sample)))
            venv = dict(env, ANSIBLE_COLLECTIONS_PATH=args.community_libvirt,
                        PYTHONPATH=os.path.join(args.community_libvirt, "py"))
            s, rss, rc = run(["ansible-playbook", "-i", "localhost,", "-c", "local", play], venv,
                             os.path.join(work, "virt.log"))
            s0, _r, _rc = run(["ansible-playbook", "-i", "localhost,", "-c", "local", play, "-e", "x=1",
                               "--list-tasks"], venv)
            per = (s - s0) / len(sample)
            res["virt"] = {"sample": len(sample), "s": s, "startup_s": s0, "per_domain_s": per, "rc": rc,
                           "extrapolated_1000_s": s0 + 1000 * per, "extrapolated_10000_s": s0 + 10000 * per}
            if rc != 0:
                raise SystemExit("community.libvirt.virt failed (log %s)" % work)
            log("community.libvirt.virt get_xml: %.3f s per domain (sample %d)" % (per, len(sample)))
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s)" % e)
        raise SystemExit(130) from None
    finally:
        t = time.monotonic()
        gone = cleanup(conn)
        res["cleanup_s"] = time.monotonic() - t
        log("undefined %d domains in %.1f s; work files in %s" % (gone, res["cleanup_s"], work))
        res["load_after"] = os.getloadavg()
        res["loads"] = LOADS
        path = os.path.join(args.results, "fleet-%s.json" % stamp)
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        log("results: %s" % path)
    print(report_text(res))


def report_text(res):
    lines = ["fleet bench on %s, %d hypervisors, forks %d" % (res["uri"], res["hypervisors"], res["forks"])]
    sizes = sorted(res["sizes"], key=int)
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        ra, rb = res["sizes"][a], res["sizes"][b]
        lines.append("| | %s domains | %s domains | marginal per domain | growth (x10 domains) |" % (a, b))
        lines.append("|---|---|---|---|---|")
        for key, label in (("inventory_s", "(A) inventory"), ("host_audit_s", "(B) host-side audit")):
            if key not in ra or key not in rb:
                continue
            lines.append("| %s | %.1f s | %.1f s | %.2f ms | x%.2f |" % (
                label, ra[key], rb[key], 1000 * (rb[key] - ra[key]) / (int(b) - int(a)), rb[key] / ra[key]))
        for key, label in (("inventory_rss_mib", "(A) peak RSS"), ("host_audit_rss_mib", "(B) peak RSS")):
            if key not in ra or key not in rb:
                continue
            lines.append("| %s | %.0f MiB | %.0f MiB | %.1f KiB | x%.2f |" % (
                label, ra[key], rb[key], 1024 * (rb[key] - ra[key]) / (int(b) - int(a)), rb[key] / ra[key]))
    for key, label in (("audit", "(C) shipped audit"), ("audit_env", "(C') shipped audit, %s" % ", ".join(
            "%s=%s" % kv for kv in sorted(res.get("audit_env_settings", {}).items())))):
        audit = sorted(res.get(key, {}), key=int)
        if len(audit) < 2:
            continue
        a, b = audit[0], audit[-1]
        ra, rb = res[key][a], res[key][b]
        lines.append("| %s | %.1f s | %.1f s | %.2f ms | x%.2f |" % (
            label, ra["s"], rb["s"], 1000 * (rb["s"] - ra["s"]) / (int(b) - int(a)), rb["s"] / ra["s"]))
        lines.append("| %s peak RSS | %.0f MiB | %.0f MiB | %.1f KiB | x%.2f |" % (
            label.split(" ", maxsplit=1)[0], ra["rss_mib"], rb["rss_mib"],
            1024 * (rb["rss_mib"] - ra["rss_mib"]) / (int(b) - int(a)), rb["rss_mib"] / ra["rss_mib"]))
    lines.append("load average (1 min) before/after each run: " + ", ".join(
        "%s %.1f/%.1f" % (w, x, y) for w, x, y in res.get("loads", [])))
    if "virt" in res:
        v = res["virt"]
        lines.append("(D) community.libvirt.virt get_xml loop: sample %d in %.1f s, %.0f ms per domain; "
                     "extrapolated 1,000: %.0f s, 10,000: %.0f s" % (
                         v["sample"], v["s"], 1000 * v["per_domain_s"], v["extrapolated_1000_s"],
                         v["extrapolated_10000_s"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
