# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet playbooks' host-phase plan and results, and their reports. Pure: data in, data out.

``plan`` reads each guest's variables once and returns the targets, checked, and the groups of the host phase
(one module call per hypervisor, URI and device settings); ``host_results`` maps the calls' answers back to each
guest, with its host-side findings, in one pass; ``audit_records`` joins them with what the guest phase read.
(Over 400 lines on purpose: plan -> results -> records -> report is one data flow, tested as one.)

``audit_report`` and ``rollout_summary`` take one record per guest: the guest's host variables as the fleet
playbooks leave them (``inventory_hostname`` and the playbooks' private ``__sc_*`` facts, read here and nowhere
else). ``junit_xml`` renders an audit report as JUnit XML: one testsuite per hypervisor, one testcase per guest,
one ``<failure>`` per drift finding. The Markdown is rendered by the playbooks' templates from the same data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as ds
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _findings


def _get(record, key, default=None):
    value = record.get(key, default)
    return default if value is None else value


# ------------------------------------------------------------------------------------------------------- audit


# what the report reads of a guest's target (plan's targets): the filters convert only these
AUDIT_TARGET_KEYS = ("guest", "domain", "hypervisor", "uri", "port")
# what host_results reads of each registered result of a looped module call
LOOP_RESULT_KEYS = ("item", "skipped", "failed", "unreachable", "msg", "domains", "logging")


def audit_entry(record):
    """One guest's line of the audit report."""
    target = _get(record, "__sc_target", {})
    host = _get(record, "__sc_host", {})
    info = _get(host, "info", {})
    guest = record.get("inventory_hostname")
    host_findings = record.get("__sc_host_findings")
    if host_findings is None:
        host_findings = _findings.unreadable(record.get("__sc_host_failed") or "the hypervisor %s could not be read "
                                             "for this domain" % target.get("hypervisor"))
    findings = list(host_findings) + list(_get(record, "__sc_guest_findings", []))
    probe = _get(record, "__sc_guest_info", {})
    return dict([
        ("guest", guest),
        ("domain", target.get("domain")),
        ("hypervisor", target.get("hypervisor")),
        ("uri", target.get("uri")),
        ("tty", "ttyS%s" % target.get("port", 0)),
        ("state", info.get("state", "unknown")),
        ("vnc_display", info.get("vnc_display")),
        ("kernel_consoles_running", probe.get("proc_cmdline_consoles")),
        ("getty", probe.get("getty")),
        ("drift", _findings.is_drift(findings)),
        ("findings", findings),
    ])


def audit_report(records):
    """The audit report: the gate's verdict, a summary by finding kind and by hypervisor, then every guest."""
    guests = [audit_entry(r) for r in records]
    drifted = [g["guest"] for g in guests if g["drift"]]
    by_kind = dict()
    for kind in _findings.TABLE:
        having = sorted({g["guest"] for g in guests for f in g["findings"] if f["kind"] == kind.name})
        if having:
            by_kind[kind.name] = {"kind": kind.name, "side": kind.side, "drift": kind.drift, "means": kind.means,
                                  "guests": len(having), "examples": having[:5]}
    by_hv = dict()
    for g in sorted(guests, key=lambda g: str(g["hypervisor"])):
        hv = by_hv.setdefault(g["hypervisor"], {"hypervisor": g["hypervisor"], "guests": 0, "with_drift": 0,
                                                "kinds": Counter()})
        hv["guests"] += 1
        hv["with_drift"] += 1 if g["drift"] else 0
        hv["kinds"].update({f["kind"] for f in g["findings"]})
    hypervisors = [dict(h, kinds=dict(sorted(h["kinds"].items()))) for h in by_hv.values()]
    return dict([
        ("drift", bool(drifted)),
        ("guests_with_drift", drifted),
        ("kinds", sorted({f["kind"] for g in guests for f in g["findings"]})),
        ("summary", dict([("guests", len(guests)), ("with_drift", len(drifted)),
                          ("by_kind", list(by_kind.values())), ("by_hypervisor", hypervisors)])),
        ("guests", guests),
    ])


def junit_xml(report, name="ttyfleet.serial_console.audit"):
    """JUnit XML of an audit report: a testsuite per hypervisor, a testcase per guest, a failure per drift finding.

    ``failures`` counts failed testcases (guests with drift), as JUnit readers expect; every drift finding is its
    own ``<failure>`` element (type = the finding kind). Findings that are not drift go to ``<system-out>``.
    """
    root = ET.Element("testsuites", name=name)
    suites = dict()
    for g in report.get("guests", []):
        suites.setdefault(g["hypervisor"], []).append(g)
    total_tests = total_failures = 0
    for hv, guests in suites.items():
        failed = sum(1 for g in guests if g["drift"])
        suite = ET.SubElement(root, "testsuite", name="serial console on %s" % hv, tests=str(len(guests)),
                              failures=str(failed), errors="0", skipped="0")
        for g in guests:
            case = ET.SubElement(suite, "testcase", name=str(g["guest"]), classname="serial_console.%s" % hv)
            notes = []
            for f in g["findings"]:
                if _findings.KINDS[f["kind"]].drift:
                    fail = ET.SubElement(case, "failure", type=f["kind"], message="%s: %s" % (f["kind"], f["detail"]))
                    fail.text = "%s (%s side)\nfix: %s" % (f["detail"], f["side"], f["fix"])
                else:
                    notes.append("%s: %s" % (f["kind"], f["detail"]))
            out = ["domain %s on %s (%s), %s" % (g["domain"], hv, g.get("uri"), g.get("state"))] + notes
            ET.SubElement(case, "system-out").text = "\n".join(out)
        total_tests += len(guests)
        total_failures += failed
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ----------------------------------------------------------------------------------------------------- rollout


def restart_reasons(host, guest_restart):
    """Why a domain needs a power cycle after the host and guest phases (empty: it does not)."""
    host = host or {}
    reasons = []
    if _get(host, "serial", {}).get("restart_required"):
        reasons.append("host: serial/console devices differ from the running domain")
    if _get(host, "vnc", {}).get("restart_required"):
        reasons.append("host: VNC device differs from the running domain")
    if guest_restart:
        reasons.append("guest: kernel console= or the serial port appear only after a restart")
    return reasons


def _rollout_status(r):
    host = r.get("__sc_host")
    host_failed = host is None or r.get("__sc_host_failed") is not None
    info = _get(_get(host, "info", {}) if host else {}, "state", None)
    active = bool(((host or {}).get("info") or {}).get("active", True))
    if host_failed:
        host_status, guest_status = "failed", "-"
    else:
        host_status = "changed" if (_get(host, "serial", {}).get("changed") or _get(host, "vnc", {}).get("changed")) \
            else "ok"
        if not active:
            guest_status = "skipped: domain %s" % info
        elif r.get("__sc_guest_done") is None:
            guest_status = "failed"
        else:
            guest_status = "configured, restart needed" if r.get("__sc_guest_restart") else "ok"
    cycle = r.get("__sc_cycle")
    if r.get("__sc_guest_done") is None:
        restart = "-"
    elif r.get("__sc_cycle_failed") is not None:
        restart = "failed"
    elif r.get("__sc_cycle_done") is None:
        restart = "not attempted: the rollout stopped after a failed batch"
    elif cycle is not None and not cycle.get("skipped"):
        restart = "yes"
    elif r.get("__sc_needs_cycle"):
        restart = "PENDING (serial_console_restart_ok=false)"
    else:
        restart = "not needed"
    return host_status, guest_status, restart


def rollout_row(r):
    target = _get(r, "__sc_target", {})
    host_status, guest_status, restart = _rollout_status(r)
    cycle = r.get("__sc_cycle")
    # what the console showed: the power cycle's result, or the plain watch (verify=all)
    p = r.get("__sc_prompt")
    if p is None:
        p = cycle if cycle is not None else {}
    transcript = str(p.get("transcript") or "")
    error = r.get("__sc_host_failed") or r.get("__sc_guest_failed") or r.get("__sc_cycle_failed") or ""
    return dict([
        ("guest", r.get("inventory_hostname")),
        ("domain", target.get("domain")),
        ("hypervisor", target.get("hypervisor")),
        ("host", host_status),
        ("guest_config", guest_status),
        ("restart", restart),
        ("restart_reasons", list(_get(r, "__sc_cycle_why", []))),
        ("prompt_seen", p.get("matched")),
        ("grub_seen", p.get("grub_seen")),
        ("seconds_to_prompt", p.get("seconds")),
        # the last lines the console showed (GRUB, the kernel, then the prompt), for the report
        ("console_tail", [line for line in transcript.splitlines() if line.strip()][-8:]),
        ("error", error),
    ])


def rollout_summary(records):
    return [rollout_row(r) for r in records]


def rollout_failed(summary):
    """The rows that make the rollout fail: an error, or a power cycle never attempted after a stopped batch."""
    return [r for r in summary if r["error"] or r["restart"].startswith("not attempted")]


# ------------------------------------------------------------------------------------------------- host calls


def pick_domain(loop_results, group_id, domain, module):
    """This domain's entry of a module call made for its group of domains (tasks/host.yml's loops).

    ``{}`` when the call did not run for the group (skipped); ``{failed, msg}`` when it failed or left the
    domain out, the message naming the module.
    """
    for r in loop_results or []:
        if (r.get("item") or {}).get("id") != group_id:
            continue
        if r.get("skipped"):
            return {}
        if r.get("failed") or r.get("unreachable"):
            return {"failed": True, "msg": "%s: %s" % (module, r.get("msg") or "failed")}
        for d in r.get("domains") or []:
            if d.get("name") == domain:
                return d
        return {"failed": True, "msg": "domain %s is missing from the hypervisor's answer" % domain}
    return {}


# ---------------------------------------------------------------------------------- the plan of the host phase

# The public variables a guest's target is made of (docs/fleet.md), and the key of each in ``defaults``
# (playbooks/vars/fleet.yml's __sc_defaults, their one home). ``domain`` defaults to the guest's inventory name.
TARGET_VARS = (
    ("hypervisor", "serial_console_hypervisor"),
    ("domain", "serial_console_domain"),
    ("uri", "serial_console_uri"),
    ("port", "serial_console_port"),
    ("speed", "serial_console_speed"),
    ("word", "serial_console_word"),
    ("parity", "serial_console_parity"),
    ("stop", "serial_console_stop"),
    ("vnc", "serial_console_vnc"),
    ("vnc_listen", "serial_console_vnc_listen"),
    ("vnc_wildcard", "serial_console_vnc_allow_wildcard_listen"),
    ("logging", "serial_console_logging"),
    ("log_file", "serial_console_log_file"),
    ("verify", "serial_console_verify"),
)
_BOOLS = ("vnc", "vnc_wildcard", "logging")
_TRUE = ("1", "true", "yes", "on", "y", "t")


def _as_bool(value):
    return value is True or str(value).strip().lower() in _TRUE


def target(guest, variables, defaults, inventory_hosts):
    """(target, problems) of one guest from its variables: where its domain lives and the fleet's settings for it.

    ``variables``: the guest's host variables (a mapping; only the serial_console_* of TARGET_VARS are read);
    ``defaults``: the default of each target key; ``inventory_hosts``: every host name of the inventory (the
    hypervisor must be one). The console settings are checked by _console_settings (their one home).
    """
    v = {}
    for key, var in TARGET_VARS:
        value = variables.get(var)
        v[key] = (guest if key == "domain" else defaults.get(key)) if value is None else value
    problems = []
    if v["hypervisor"] is None or v["hypervisor"] not in inventory_hosts:
        problems.append("needs serial_console_hypervisor naming a host of the inventory (got %s)"
                        % (v["hypervisor"] if v["hypervisor"] is not None else "nothing"))
    if v["verify"] not in ("restarted", "all", "none"):
        problems.append("serial_console_verify must be restarted, all or none (got %s)" % v["verify"])
    for key in _BOOLS:
        v[key] = _as_bool(v[key])
    # the rollout's domain_serial log_file: "" (unset) leaves the port's log as it is; checked as the module would
    v["log_file"] = "" if v.get("log_file") is None else str(v["log_file"])
    if v["log_file"]:
        try:
            ds._check_path(v["log_file"], "serial_console_log_file")
        except ds.SpecError as e:
            problems.append(str(e))
    try:
        s = cs.settings({"unit": v["port"], "speed": v["speed"], "word": v["word"], "parity": v["parity"],
                         "stop": v["stop"]},
                        {"unit": "serial_console_port", "speed": "serial_console_speed",
                         "word": "serial_console_word", "parity": "serial_console_parity",
                         "stop": "serial_console_stop"})
    except ValueError as e:
        problems.append(str(e))
        s = None
    if problems:
        return None, ["guest %s: %s" % (guest, p) for p in problems]
    t = dict([("guest", guest), ("domain", str(v["domain"])), ("hypervisor", str(v["hypervisor"])),
              ("uri", str(v["uri"])), ("port", s["port"]), ("vnc", v["vnc"]),
              ("vnc_listen", str(v["vnc_listen"])), ("vnc_wildcard", v["vnc_wildcard"]),
              ("logging", v["logging"]), ("log_file", v["log_file"])])
    t["settings"] = {"port": s["port"], "speed": s["speed"], "word": s["word"], "parity": s["parity"],
                     "stop": s["stop"], "vnc": v["vnc"], "vnc_listen": t["vnc_listen"], "logging": v["logging"]}
    return t, []


def group_targets(targets, passwords=None):
    """The targets grouped into one module call each: same hypervisor, URI, port, VNC, logging settings and log file.

    Guests with different VNC passwords (``passwords``: guest -> password, or None) land in different groups; a
    group holds no password and nothing made from one, only ``guest``, the guest whose password to use.
    """
    passwords = passwords or {}
    groups = dict()
    for t in targets:
        key = (t["hypervisor"], t["uri"], t["port"], t["vnc"], t.get("vnc_listen"), t.get("vnc_wildcard"),
               bool(t.get("logging")), t.get("log_file") or "", passwords.get(t["guest"]))
        groups.setdefault(key, []).append(t)
    return [{"id": i, "hypervisor": g[0]["hypervisor"], "uri": g[0]["uri"], "port": g[0]["port"],
             "vnc": g[0]["vnc"], "vnc_listen": g[0].get("vnc_listen"), "vnc_wildcard": g[0].get("vnc_wildcard"),
             "logging": bool(g[0].get("logging")), "log_file": g[0].get("log_file") or "",
             # the host-side findings read only port, vnc, vnc_listen and logging: the same for the whole group
             "settings": g[0].get("settings") or {"port": g[0]["port"], "vnc": g[0]["vnc"],
                                                  "vnc_listen": g[0].get("vnc_listen"),
                                                  "logging": bool(g[0].get("logging"))},
             "guest": g[0]["guest"], "domains": [t["domain"] for t in g], "guests": [t["guest"] for t in g]}
            for i, g in enumerate(groups.values())]


def _shared_log_files(targets):
    """One problem per console log file that several guests' domains on one hypervisor would write (a
    serial_console_log_file without {uuid}, the same after {name} is filled in): only one QEMU could log there."""
    seen = dict()
    for t in targets:
        path = t.get("log_file") or ""
        if path and "{uuid}" not in path:
            seen.setdefault((t["hypervisor"], path.replace("{name}", t["domain"])), []).append(t["guest"])
    return ["serial_console_log_file %s on %s would be written by several guests' domains (%s); put {name} in it, "
            "for example /var/log/libvirt/qemu/{name}-serial0.log" % (path, hv, ", ".join(names))
            for (hv, path), names in seen.items() if len(names) > 1]


def plan(guests, variables_of, defaults, inventory_hosts):
    """The host phase's plan for the guests of a play, from one read of each guest's variables.

    Returns ``targets`` (guest -> target), ``groups`` (group_targets), ``hypervisors`` (each with its groups and
    ``guest``, its first guest: the play host that runs its calls, delegated, so that ``--limit`` on guests never
    leaves a hypervisor out; in first-seen order) and ``problems`` (every bad inventory entry, and every domain
    listed for two guests: the playbook fails on them before it contacts anything).
    """
    targets, problems, passwords = dict(), [], {}
    hosts = set(inventory_hosts)
    for guest in guests:
        variables = variables_of(guest)
        t, bad = target(guest, variables, defaults, hosts)
        problems += bad
        if t is not None:
            targets[guest] = t
            passwords[guest] = variables.get("serial_console_vnc_password")
    seen = dict()
    for t in targets.values():
        seen.setdefault((t["hypervisor"], t["uri"], t["domain"]), []).append(t["guest"])
    for (hv, uri, domain), names in seen.items():
        if len(names) > 1:
            problems.append("the same domain is listed for several guests: [%s %s %s] (%s)"
                            % (hv, uri, domain, ", ".join(names)))
    problems += _shared_log_files(targets.values())
    groups = group_targets(targets.values(), passwords)
    by_hv = dict()
    for g in groups:
        by_hv.setdefault(g["hypervisor"], []).append(g)
    return {"targets": targets, "groups": groups, "problems": problems,
            "hypervisors": [{"name": hv, "guest": gs[0]["guest"], "groups": gs} for hv, gs in by_hv.items()]}


def _answers(loop_results, module):
    """group id -> ({domain: entry}, failure message or None, the result) of a module looped over the groups."""
    out = {}
    for r in loop_results or []:
        gid = (r.get("item") or {}).get("id")
        if r.get("skipped"):
            out[gid] = (None, None, r)
        elif r.get("failed") or r.get("unreachable"):
            out[gid] = ({}, "%s: %s" % (module, r.get("msg") or "failed"), r)
        else:
            out[gid] = ({d.get("name"): d for d in r.get("domains") or []}, None, r)
    return out


_COMPACT_INFO = ("name", "state", "active", "persistent", "vnc_display")
# domain_console_info's drift answers (the audit's one host call): the entries domain_serial and domain_vnc would
# have given in check mode
_DRIFT = (("serial", "serial_drift"), ("vnc", "vnc_drift"))


def _drift_answers(entry):
    """Take ``serial``/``vnc`` from the info entry's drift answers where those modules were not called."""
    info = entry["info"]
    if not any(key in info for _k, key in _DRIFT):
        return
    entry["info"] = info = dict(info)
    for k, key in _DRIFT:
        drift = info.pop(key, None)
        if drift is not None and not entry[k]:
            entry[k] = drift


def host_results(groups, serial_results, vnc_results, info_results=None, log_results=None, compact=False):
    """guest -> its domain's answers of the host phase's module calls, made per group (tasks/host_calls.yml).

    Each entry: ``serial``, ``vnc``, ``info`` (the modules' entries for the domain; ``{}`` where a call did not
    run for the group), ``logging`` (the hypervisor's console_log ``logging``, or None), ``failed`` (None, or the
    message: a call failed or left the domain out) and ``findings`` (the host-side findings, when ``info`` was
    read and nothing failed; else None). One pass over each answer: linear in the domains.

    Where domain_console_info was called with ``drift`` (the audit: one call per group), ``serial`` and ``vnc`` are
    its ``serial_drift`` and ``vnc_drift`` answers (what those modules would answer in check mode).

    ``compact`` (the audit): once the findings are made, keep of ``serial``/``vnc`` nothing and of ``info`` only
    what the report shows (state, VNC display), all of it only for a running domain (its guest is read next): at
    10,000 guests every byte kept is carried through Ansible's templating again by the later plays.
    """
    calls = [("serial", _answers(serial_results, "domain_serial")), ("vnc", _answers(vnc_results, "domain_vnc")),
             ("info", _answers(info_results, "domain_console_info"))]
    logs = _answers(log_results, "console_log")
    out = dict()
    for g in groups:
        log_by_name, log_failed, log_result = logs.get(g["id"], (None, None, {}))
        logging = None if log_by_name is None or log_failed else log_result.get("logging")
        for guest, domain in zip(g["guests"], g["domains"]):
            entry, failures = dict(), []
            for key, answers in calls:
                by_name, failed, _r = answers.get(g["id"], (None, None, None))
                if by_name is None:
                    entry[key] = {}
                elif failed:
                    entry[key] = {"failed": True, "msg": failed}
                    failures.append(failed)
                elif domain in by_name:
                    entry[key] = by_name[domain]
                else:
                    msg = "domain %s is missing from the hypervisor's answer" % domain
                    entry[key] = {"failed": True, "msg": msg}
                    failures.append(msg)
            _drift_answers(entry)
            if log_failed:
                failures.append(log_failed)
            entry["logging"] = logging
            entry["failed"] = ("%s (%s), domain %s: %s" % (g["hypervisor"], g["uri"], domain, "; ".join(failures))
                               if failures else None)
            entry["findings"] = (_findings.domain_findings(g["settings"], entry["info"], entry["serial"],
                                                           entry["vnc"], logging)
                                 if entry["info"] and not failures else None)
            if compact:
                entry["serial"], entry["vnc"] = {}, {}
                if not entry["info"].get("active"):
                    entry["info"] = {k: entry["info"][k] for k in _COMPACT_INFO if k in entry["info"]}
            out[guest] = entry
    return out


def audit_records(targets, hosts, guest_records=None):
    """One audit_report record per target guest, from the plan's targets, the host phase's results (guest ->
    host_results entry, merged over the hypervisors) and the guest phase's records (only guests it read)."""
    by_guest = {r.get("inventory_hostname"): r for r in guest_records or []}
    records = []
    for guest, t in targets.items():
        h = hosts.get(guest)
        r = {"inventory_hostname": guest, "__sc_target": t}
        if h is None:
            r["__sc_host_failed"] = "the host phase did not run for %s (its hypervisor %s left the play)" % (
                guest, t.get("hypervisor"))
        else:
            r["__sc_host"] = {k: h.get(k) for k in ("serial", "vnc", "info")}
            r["__sc_host_failed"] = h.get("failed")
            r["__sc_host_findings"] = h.get("findings")
        g = by_guest.get(guest) or {}
        for key in ("__sc_guest_findings", "__sc_guest_info"):
            if g.get(key) is not None:
                r[key] = g[key]
        records.append(r)
    return records
