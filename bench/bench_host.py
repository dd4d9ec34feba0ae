# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host-side benchmark: a drift check of many defined domains with our modules, against two baselines.

Defines up to 1,000 diskless domains `bench-NNNN` on a libvirt URI (defined, never started; every 2nd one already
has a pty serial, every 3rd one already has VNC on 127.0.0.1), then times at each size (default 100 and 1,000):

  (a)  a drift check with our modules in check mode: one ansible-playbook run with one domain_serial task and one
       domain_vnc task, each given the whole list of names (one module call for all domains); also each module
       alone, and domain_console_info, for reference;
  (b)  a bare libvirt-python loop that only looks each domain up and reads its XML (INACTIVE|SECURE);
  (c)  a loop of `virt-xml DOMAIN --edit --serial pty --print-diff` (`--add-device` where the domain has no
       serial yet), one process per domain, serial only (so (c) does less work than (a)).

Prints absolute times, the marginal cost per domain ((t_big - t_small) / (big - small)) of (a) against (b), and the
ratio whole (c) / whole (a) at the largest size. Results go to bench/results/ (text and JSON).

The domains are undefined at the end, also after Ctrl-C or SIGTERM. Not a test: `make test` does not run it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import libvirt

PREFIX = "bench-"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>{devices}</devices>
</domain>"""
SERIAL = "<serial type='pty'><target port='0'/></serial>"
VNC = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def log(msg):
    print("[bench] %s" % msg, file=sys.stderr, flush=True)


def domain_name(i):
    return "%s%04d" % (PREFIX, i)


def has_serial(i):
    return i % 2 == 0


def has_vnc(i):
    return i % 3 == 0


def bench_domains(conn):
    return [d for d in conn.listAllDomains(0) if d.name().startswith(PREFIX)]


def cleanup(conn):
    doms = bench_domains(conn)
    for d in doms:
        if d.isActive():
            d.destroy()
        d.undefine()
    return len(doms)


def define(conn, count):
    t0 = time.perf_counter()
    for i in range(1, count + 1):
        devices = (SERIAL if has_serial(i) else "") + (VNC if has_vnc(i) else "")
        conn.defineXML(DOMAIN_XML.format(name=domain_name(i), devices=devices))
    return time.perf_counter() - t0


def timed(cmd, env=None, check=True):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise RuntimeError(
            "%s failed (rc %d):\n%s\n%s"
            % (" ".join(cmd[:6]), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        )
    return elapsed, proc


# --- (a) our modules ---------------------------------------------------------------------------------------------

PLAYBOOK = """---
- name: Drift check of the bench domains
  hosts: localhost
  gather_facts: false
  tasks:
{tasks}
"""
TASKS = {
    "domain_serial": """    - name: Serial console drift
      ttyfleet.serial_console.domain_serial:
        name: "{{ bench_names }}"
        uri: "{{ bench_uri }}"
      register: bench_serial
""",
    "domain_vnc": """    - name: VNC drift
      ttyfleet.serial_console.domain_vnc:
        name: "{{ bench_names }}"
        uri: "{{ bench_uri }}"
      register: bench_vnc
""",
    "domain_console_info": """    - name: Console info
      ttyfleet.serial_console.domain_console_info:
        name: "{{ bench_names }}"
        uri: "{{ bench_uri }}"
      register: bench_info
""",
}


def _index(name):
    return int(name[len(PREFIX) :])


def _check_changed(names, res, expect_change):
    got = [d["name"] for d in res["domains"]]
    if got != names:
        raise RuntimeError("the module reported %d domains, expected %d" % (len(got), len(names)))
    wrong = [d["name"] for d in res["domains"] if bool(d["changed"]) != expect_change(_index(d["name"]))]
    if wrong:
        raise RuntimeError("unexpected drift verdict for %s" % ", ".join(wrong[:10]))


def _check_info(names, res):
    got = [d["name"] for d in res["domains"]]
    if got != names:
        raise RuntimeError("domain_console_info reported %d domains, expected %d" % (len(got), len(names)))
    wrong = [d["name"] for d in res["domains"] if bool(d["serials"]) != has_serial(_index(d["name"]))]
    if wrong:
        raise RuntimeError("domain_console_info: wrong serials for %s" % ", ".join(wrong[:10]))


CHECKS = {
    # what each task must report, so a silently failing or skipping module cannot look fast
    "domain_serial": lambda names, res: _check_changed(names, res, lambda i: not has_serial(i)),
    "domain_vnc": lambda names, res: _check_changed(names, res, lambda i: not has_vnc(i)),
    "domain_console_info": _check_info,
}


def modules_available(collections_path):
    base = os.path.join(collections_path, "ansible_collections", "ttyfleet", "serial_console", "plugins", "modules")
    return {m for m in TASKS if os.path.isfile(os.path.join(base, m + ".py"))}


def run_playbook(workdir, modules, names, uri, env):
    playbook = os.path.join(workdir, "bench-%s.yml" % "-".join(modules))
    with open(playbook, "w", encoding="utf-8") as f:
        f.write(PLAYBOOK.format(tasks="".join(TASKS[m] for m in modules)))
    varsfile = os.path.join(workdir, "vars-%d.json" % len(names))
    with open(varsfile, "w", encoding="utf-8") as f:
        json.dump({"bench_names": names, "bench_uri": uri}, f)
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
        "-i", "localhost,", "-c", "local", "--check", "-e", "@" + varsfile, playbook,
    ]  # fmt: skip
    elapsed, proc = timed(cmd, env=env, check=False)
    try:
        tasks = json.loads(proc.stdout.strip().splitlines()[-1])["tasks"]
    except (IndexError, ValueError, KeyError) as e:
        raise RuntimeError("ansible-playbook rc %d, no results:\n%s" % (proc.returncode, proc.stderr[-3000:])) from e
    for module, task in zip(modules, tasks, strict=False):
        if task["failed"]:
            raise RuntimeError("%s failed: %s" % (module, task["result"].get("msg")))
    if len(tasks) != len(modules):
        raise RuntimeError("ansible-playbook ran %d tasks, expected %d" % (len(tasks), len(modules)))
    for module, task in zip(modules, tasks, strict=True):
        CHECKS[module](names, task["result"])
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook rc %d:\n%s" % (proc.returncode, proc.stderr[-3000:]))
    return elapsed, {m: t["duration_s"] for m, t in zip(modules, tasks, strict=True)}


# --- (b) bare libvirt-python loop --------------------------------------------------------------------------------

BARE_LOOP = r"""
import sys, time, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
t0 = time.perf_counter()
conn = libvirt.open(sys.argv[1])
flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
total = 0
for name in sys.argv[2:]:
    total += len(conn.lookupByName(name).XMLDesc(flags))
conn.close()
print(time.perf_counter() - t0, total)
"""


def run_bare(names, uri):
    elapsed, proc = timed([sys.executable, "-c", BARE_LOOP, uri, *names])
    loop_s, total = proc.stdout.split()
    if int(total) <= 0:
        raise RuntimeError("the bare loop read no XML")
    return elapsed, float(loop_s)


# --- (c) virt-xml loop --------------------------------------------------------------------------------------------


def virt_xml_cmd(name, uri):
    action = "--edit" if has_serial(_index(name)) else "--add-device"
    return ["virt-xml", "--connect", uri, name, action, "--serial", "pty", "--print-diff"]


def run_virt_xml(names, uri):
    t0 = time.perf_counter()
    for name in names:
        _elapsed, proc = timed(virt_xml_cmd(name, uri))
        if not has_serial(_index(name)) and "+    <serial" not in proc.stdout:
            raise RuntimeError("virt-xml printed no serial diff for %s: %s" % (name, proc.stdout[-500:]))
    return time.perf_counter() - t0


# --- the run -------------------------------------------------------------------------------------------------------


def median_run(repeats, fn):
    """Run fn() (which returns (wall seconds, detail)) `repeats` times; the run with the median wall time."""
    runs = sorted((fn() for _run in range(repeats)), key=lambda r: r[0])
    wall, detail = runs[len(runs) // 2]
    return wall, detail, [r[0] for r in runs]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", default="qemu:///system")
    p.add_argument("--sizes", default="100,1000", help="comma-separated domain counts (default 100,1000)")
    p.add_argument("--repeats", type=int, default=3, help="runs of (a) and (b) per size; the median is used")
    p.add_argument(
        "--virt-xml-sample",
        type=int,
        default=100,
        help="at sizes above this, time virt-xml on a random sample of this many domains and extrapolate "
        "(0: run every domain)",
    )
    p.add_argument(
        "--collections-path", default=os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, "build"))
    )
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(sizes) < 2 or sizes[0] < 1 or sizes[-1] > 9999:
        p.error("--sizes needs at least two counts between 1 and 9999")
    if not shutil.which("virt-xml"):
        p.error("virt-xml is missing (Debian package virtinst)")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open(args.uri)
    leftovers = cleanup(conn)
    if leftovers:
        log("removed %d leftover %s* domains of an earlier run" % (leftovers, PREFIX))

    available = modules_available(args.collections_path)
    drift = [m for m in ("domain_serial", "domain_vnc") if m in available]
    if not drift:
        log("domain_serial/domain_vnc not found under %s: (a) uses domain_console_info only" % args.collections_path)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=args.collections_path,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_STDOUT_CALLBACK="bench_results",
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_FORCE_COLOR="0",
    )
    rng = random.Random(args.seed)
    started = datetime.datetime.now(datetime.UTC)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "uri": args.uri,
        "host": os.uname().nodename,
        "cpus": os.cpu_count(),
        "libvirt": conn.getLibVersion(),
        "sizes": sizes,
        "repeats": args.repeats,
        "drift_modules": drift,
        "per_size": {},
    }
    try:
        with tempfile.TemporaryDirectory(prefix="ttyfleet-bench-") as workdir:
            results["define_s"] = define(conn, sizes[-1])
            log("defined %d domains in %.2f s" % (sizes[-1], results["define_s"]))
            for size in sizes:
                names = [domain_name(i) for i in range(1, size + 1)]
                row = {}
                if drift:
                    row["a_drift"], row["a_drift_tasks"], row["a_drift_runs"] = median_run(
                        args.repeats, lambda n=names: run_playbook(workdir, drift, n, args.uri, env)
                    )
                    row["a_drift_task_s"] = sum(row["a_drift_tasks"].values())
                for m in sorted(available):
                    row["a_" + m], row["a_%s_task" % m], _runs = median_run(
                        args.repeats, lambda n=names, m=m: run_playbook(workdir, [m], n, args.uri, env)
                    )
                row["b_bare"], row["b_bare_loop"], row["b_bare_runs"] = median_run(
                    args.repeats, lambda n=names: run_bare(n, args.uri)
                )
                sample = names
                if args.virt_xml_sample and size > args.virt_xml_sample:
                    sample = sorted(rng.sample(names, args.virt_xml_sample))
                c_s = run_virt_xml(sample, args.uri)
                row["c_virt_xml_sample"] = len(sample)
                row["c_virt_xml_measured_s"] = c_s
                row["c_virt_xml"] = c_s * size / len(sample)
                row["c_extrapolated"] = len(sample) != size
                results["per_size"][size] = row
                log("size %d: %s" % (size, {k: round(v, 3) for k, v in row.items() if isinstance(v, float)}))
    except Interrupted as e:
        log("interrupted (%s): cleaning up" % e)
        raise SystemExit(130) from e
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        removed = cleanup(conn)
        log("undefined %d %s* domains" % (removed, PREFIX))
        conn.close()

    report = render(results)
    print(report)
    os.makedirs(args.results, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for ext, text in (("txt", report), ("json", json.dumps(results, indent=2, default=str))):
        with open(os.path.join(args.results, "bench-%s.%s" % (stamp, ext)), "w", encoding="utf-8") as f:
            f.write(text + "\n")
    log("results in %s/bench-%s.{txt,json}" % (args.results, stamp))
    return 0 if results["targets_met"] else 1


def render(results):
    sizes = results["sizes"]
    small, big = sizes[0], sizes[-1]
    per = results["per_size"]
    lines = [
        "ttyfleet.serial_console host benchmark, %s, %s, %d CPUs, libvirt %s"
        % (results["started"], results["uri"], results["cpus"], _version(results["libvirt"])),
        "domains: defined, not running; every 2nd has a pty serial, every 3rd has VNC. Median of %d runs for (a), (b)."
        % results["repeats"],
        "",
        "%-46s" % "wall-clock seconds" + "".join("%12s" % ("%d doms" % s) for s in sizes) + "%16s" % "marginal ms/dom",
    ]

    def row(label, key):
        vals = [per[s].get(key) for s in sizes]
        if any(v is None for v in vals):
            return None
        marginal = (vals[-1] - vals[0]) / (big - small) * 1000
        lines.append("%-46s" % label + "".join("%12.3f" % v for v in vals) + "%16.3f" % marginal)
        return marginal

    m_a = row("(a) drift check: %s" % " + ".join(results["drift_modules"]), "a_drift")
    m_a_task = row("    the same, module tasks only (no start-up)", "a_drift_task_s")
    for m in ("domain_serial", "domain_vnc", "domain_console_info"):
        row("    %s alone (one playbook)" % m, "a_" + m)
    m_b_wall = row("(b) bare libvirt-python lookup + XMLDesc", "b_bare")
    # a fresh Python process adds ~0.1 s of noisy start-up that does not depend on the size: the loop's own time
    # gives the same marginal cost with less noise
    m_b = row("    the same, the loop only (no start-up)", "b_bare_loop")
    row("(c) virt-xml --print-diff loop%s" % (" (extrapolated)" if per[big]["c_extrapolated"] else ""), "c_virt_xml")
    lines.append("")
    for s in sizes:
        if per[s]["c_extrapolated"]:
            lines.append(
                "(c) at %d: measured %d random domains in %.1f s (%.0f ms each), EXTRAPOLATED x%.0f to %.1f s"
                % (
                    s,
                    per[s]["c_virt_xml_sample"],
                    per[s]["c_virt_xml_measured_s"],
                    per[s]["c_virt_xml_measured_s"] / per[s]["c_virt_xml_sample"] * 1000,
                    s / per[s]["c_virt_xml_sample"],
                    per[s]["c_virt_xml"],
                )
            )
    key_a = "a_drift" if m_a is not None else "a_domain_console_info"
    if m_a is None:
        m_a = (per[big][key_a] - per[small][key_a]) / (big - small) * 1000
        lines.append("NOTE: domain_serial/domain_vnc were not available; (a) below is domain_console_info alone.")
    measurable = m_b > 0 and m_a > 0
    ratio_marginal = m_a / m_b if measurable else float("nan")
    ratio_c = per[big]["c_virt_xml"] / per[big][key_a]
    ok_marginal = measurable and ratio_marginal <= 2.0
    ok_c = ratio_c >= 20.0
    results["targets"] = {
        "marginal_a_ms": m_a,
        "marginal_b_ms": m_b,
        "marginal_b_wall_ms": m_b_wall,
        "marginal_a_task_only_ms": m_a_task,
        "marginal_ratio_a_over_b": ratio_marginal,
        "whole_ratio_c_over_a_at_%d" % big: ratio_c,
        "marginal_target_met": ok_marginal,
        "virt_xml_target_met": ok_c,
    }
    results["targets_met"] = ok_marginal and ok_c
    lines += [
        "",
        "marginal per domain: (a) %.3f ms vs (b) %.3f ms -> %.2fx   target <= 2x: %s"
        % (m_a, m_b, ratio_marginal, "MET" if ok_marginal else ("MISSED" if measurable else "NOT MEASURABLE (noise)")),
        "whole at %d: (c) %.1f s / (a) %.2f s -> %.1fx faster   target >= 20x: %s%s"
        % (
            big,
            per[big]["c_virt_xml"],
            per[big][key_a],
            ratio_c,
            "MET" if ok_c else "MISSED",
            " ((c) extrapolated from a sample)" if per[big]["c_extrapolated"] else "",
        ),
        "(c) checks the serial port only while (a) checks serial and VNC: the comparison favours virt-xml.",
    ]
    if m_a_task is not None and m_b > 0:
        lines.insert(-1, "  (module tasks only: (a) %.3f ms per domain -> %.2fx (b))" % (m_a_task, m_a_task / m_b))
    return "\n".join(lines)


def _version(v):
    return "%d.%d.%d" % (v // 1000000, v // 1000 % 1000, v % 1000)


if __name__ == "__main__":
    sys.exit(main())
