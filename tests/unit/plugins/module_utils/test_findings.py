# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests over the finding table: every kind is found by its case and only there; clean inputs find nothing.

Host inputs are shaped like domain_console_info / domain_serial / domain_vnc entries (the console_info ones are
made by describe_domain from real libvirt XML where it matters); guest inputs like the audit's guest read
(guest_console_facts plus the probe's data).
"""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _findings
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import describe_domain

SETTINGS = {"port": 0, "speed": 115200, "word": 8, "parity": "no", "stop": 1, "vnc": True, "vnc_listen": "127.0.0.1"}


def domain_xml(devices, name="d1"):
    return ("<domain type='qemu'><name>%s</name><uuid>2f1c6a52-0d7e-4c53-9d0f-2b7a5e0c0009</uuid>"
            "<devices>%s</devices></domain>" % (name, devices))


SERIAL0 = ("<serial type='pty'><target type='isa-serial' port='0'/></serial>"
           "<console type='pty'><target type='serial' port='0'/></console>")
VNC_LOOP = ("<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>"
            "<listen type='address' address='127.0.0.1'/></graphics>")


def vnc(listen, passwd=False, gtype="vnc"):
    return "<graphics type='%s' port='-1' autoport='yes'%s><listen type='address' address='%s'/></graphics>" % (
        gtype, " passwd='s3cret'" if passwd else "", listen)


def tcp_serial(host, port=1, mode="bind"):
    src = "<source mode='%s'%s service='4555'/>" % (mode, " host='%s'" % host if host is not None else "")
    return "<serial type='tcp'>%s<protocol type='telnet'/><target port='%d'/></serial>" % (src, port)


def info(config_devices, live_devices=None, state=None):
    """A domain_console_info entry from XML: shut off (config only) or running (config and live)."""
    live = domain_xml(live_devices) if live_devices is not None else None
    d = describe_domain(domain_xml(config_devices), live)
    d.update(state=state or ("running" if live else "shutoff"), active=live is not None, persistent=True)
    return d


CLEAN_HOST = {"info": info(SERIAL0 + VNC_LOOP, SERIAL0 + VNC_LOOP), "serial": {"changed": False},
              "vnc": {"changed": False}}

LOGGING = dict(SETTINGS, logging=True)
LOGGED0 = ("<serial type='pty'><log file='/var/log/libvirt/qemu/d1-serial0.log' append='on'/>"
           "<target type='isa-serial' port='0'/></serial>"
           "<console type='pty'><log file='/var/log/libvirt/qemu/d1-serial0.log' append='on'/>"
           "<target type='serial' port='0'/></console>")
FILE0 = ("<serial type='file'><source path='/var/log/libvirt/qemu/d1-ttyS0.txt'/>"
         "<target type='isa-serial' port='0'/></serial>"
         "<console type='file'><source path='/var/log/libvirt/qemu/d1-ttyS0.txt'/>"
         "<target type='serial' port='0'/></console>")
SERIAL1 = "<serial type='pty'><target type='isa-serial' port='1'/></serial>"
# console_log's `logging` (what _console_log.logging_config makes of virtlogd.conf and qemu.conf)
BOUNDED = {"stdio_handler": "logd", "max_size": 2097152, "max_backups": 3, "bounded": True,
           "kept_bytes_per_log": 8388608}
UNBOUNDED = dict(BOUNDED, stdio_handler="file", bounded=False)
LOGGED_HOST = dict(CLEAN_HOST, settings=LOGGING, info=info(LOGGED0 + VNC_LOOP, LOGGED0 + VNC_LOOP))

# Each host case: (name, inputs, the kinds it must find). Every host kind of the table has at least one.
HOST_CASES = [
    ("clean, running", CLEAN_HOST, []),
    ("no serial port", dict(CLEAN_HOST, serial={"changed": True, "changes": ["add serial port 0 (pty, isa-serial)"]}),
     ["serial_console"]),
    ("serial only in the config", dict(CLEAN_HOST, info=info(SERIAL0 + VNC_LOOP, VNC_LOOP)), ["restart_pending"]),
    ("tcp serial bound to 0.0.0.0, shut off", dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial("0.0.0.0") + VNC_LOOP)),
     ["domain_not_running", "serial_exposed"]),
    ("tcp serial bound without a host (every interface)",
     dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial(None) + VNC_LOOP)), ["domain_not_running", "serial_exposed"]),
    ("tcp serial bound to ::ffff:0.0.0.0, live",
     dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial("::ffff:0.0.0.0") + VNC_LOOP,
                                SERIAL0 + tcp_serial("::ffff:0.0.0.0") + VNC_LOOP)), ["serial_exposed"]),
    ("tcp serial bound to a public address",
     dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial("192.0.2.7") + VNC_LOOP)),
     ["domain_not_running", "serial_exposed"]),
    ("tcp serial bound to loopback", dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial("127.0.0.1") + VNC_LOOP)),
     ["domain_not_running"]),
    ("tcp serial connecting out to a remote host",
     dict(CLEAN_HOST, info=info(SERIAL0 + tcp_serial("192.0.2.7", mode="connect") + VNC_LOOP)), ["domain_not_running"]),
    ("VNC on 0.0.0.0 without a password, shut off",
     dict(CLEAN_HOST, info=info(SERIAL0 + vnc("0.0.0.0")), vnc={"changed": True, "changes": ["listen"]}),
     ["domain_not_running", "vnc_exposed"]),
    ("VNC on 0.0.0.0 in the config of a running domain",
     dict(CLEAN_HOST, info=info(SERIAL0 + vnc("0.0.0.0"), SERIAL0 + VNC_LOOP), vnc={"changed": True}),
     ["restart_pending", "vnc_exposed"]),
    ("VNC on the fleet's own address with a password", dict(
        CLEAN_HOST, info=info(SERIAL0 + vnc("10.1.2.3", passwd=True)), settings=dict(SETTINGS, vnc_listen="10.1.2.3")),
     ["domain_not_running"]),
    ("VNC on another address with a password", dict(CLEAN_HOST, info=info(SERIAL0 + vnc("10.1.2.3", passwd=True))),
     ["domain_not_running", "vnc_exposed"]),
    ("VNC on a socket", dict(CLEAN_HOST, info=info(
        SERIAL0 + "<graphics type='vnc'><listen type='socket' socket='/run/v.sock'/></graphics>")),
     ["domain_not_running"]),
    ("SPICE on 0.0.0.0 with a password",
     dict(CLEAN_HOST, info=info(SERIAL0 + VNC_LOOP + vnc("0.0.0.0", True, "spice"))),
     ["domain_not_running", "spice_exposed"]),
    ("SPICE on loopback", dict(CLEAN_HOST, info=info(SERIAL0 + VNC_LOOP + vnc("127.0.0.1", False, "spice"))),
     ["domain_not_running"]),
    ("VNC keymap differs", dict(CLEAN_HOST, vnc={"changed": True, "changes": ["keymap"]}), ["vnc"]),
    ("the fleet does not manage VNC", dict(CLEAN_HOST, vnc={"changed": True}, settings=dict(SETTINGS, vnc=False)), []),
    # console logs (serial_console_logging: opt-in, so a fleet that never asked for logging sees no drift)
    ("pty console without a log, logging not asked for", CLEAN_HOST, []),
    ("pty console without a log", dict(CLEAN_HOST, settings=LOGGING), ["console_not_logged"]),
    ("log only in the live copy: the config judged", dict(
        CLEAN_HOST, settings=LOGGING, info=info(SERIAL0 + VNC_LOOP, LOGGED0 + VNC_LOOP)),
     ["console_not_logged", "restart_pending"]),
    ("logged, virtlogd bounds it", dict(LOGGED_HOST, logging=BOUNDED), []),
    ("logged, hypervisor logging unknown (remote URI)", dict(LOGGED_HOST, logging=None), []),
    ("logged, QEMU writes the log itself", dict(LOGGED_HOST, logging=UNBOUNDED), ["console_log_unbounded"]),
    ("logged, QEMU writes the log itself, logging not asked for",
     dict(LOGGED_HOST, settings=SETTINGS, logging=UNBOUNDED), []),
    ("file chardev is its own log", dict(CLEAN_HOST, settings=LOGGING, logging=BOUNDED, info=info(
        FILE0 + VNC_LOOP, FILE0 + VNC_LOOP)), []),
    ("file chardev, QEMU writes it itself", dict(CLEAN_HOST, settings=LOGGING, logging=UNBOUNDED, info=info(
        FILE0 + VNC_LOOP, FILE0 + VNC_LOOP)), ["console_log_unbounded"]),
    ("no serial port at all: serial_console says it, not console_not_logged", dict(
        CLEAN_HOST, settings=LOGGING, info=info(VNC_LOOP, VNC_LOOP),
        serial={"changed": True, "changes": ["add serial port 0"]}), ["serial_console"]),
    ("another port is logged, the fleet's is not", dict(CLEAN_HOST, settings=dict(LOGGING, port=1), info=info(
        LOGGED0 + SERIAL1 + VNC_LOOP, LOGGED0 + SERIAL1 + VNC_LOOP)), ["console_not_logged"]),
]


def host_findings(case):
    return _findings.domain_findings(case.get("settings", SETTINGS), case["info"], case.get("serial"), case.get("vnc"),
                                     **({"logging": case["logging"]} if "logging" in case else {}))


def test_console_log_findings_name_the_port_and_the_file():
    [f] = host_findings(dict(CLEAN_HOST, settings=LOGGING))
    assert f["detail"] == "serial port 0 (pty) has no <log file>: what it prints is lost unless someone is attached", f
    [f] = host_findings(dict(LOGGED_HOST, logging=UNBOUNDED))
    assert f["detail"].startswith("/var/log/libvirt/qemu/d1-serial0.log grows without limit"), f
    assert 'stdio_handler = "file"' in f["detail"] and "console_logging" in f["fix"], f


@pytest.mark.parametrize("name, case, want", HOST_CASES, ids=[c[0] for c in HOST_CASES])
def test_host_case(name, case, want):
    got = host_findings(case)
    assert sorted({f["kind"] for f in got}) == sorted(want), got
    for f in got:
        assert f["side"] == "host" and f["detail"] and f["fix"], f


def test_exposure_findings_name_the_address_and_the_password():
    [f] = [f for f in host_findings(HOST_CASES[9][1]) if f["kind"] == "vnc_exposed"]
    assert f["detail"] == "VNC is set to listen on 0.0.0.0 (every interface) WITHOUT a password", f
    running = host_findings(HOST_CASES[10][1])
    assert [f["detail"] for f in running if f["kind"] == "vnc_exposed"] == [
        "VNC is set to listen from the next start on 0.0.0.0 (every interface) WITHOUT a password"]
    [s] = [f for f in host_findings(HOST_CASES[4][1]) if f["kind"] == "serial_exposed"]
    assert "0.0.0.0 (every interface) port 4555 (no host given)" in s["detail"], s
    [s] = [f for f in host_findings(HOST_CASES[5][1]) if f["kind"] == "serial_exposed"]
    # live and config both expose it: reported once, as what listens now
    assert s["detail"].startswith("serial port 1 (tcp telnet) listens now on ::ffff:0.0.0.0"), s
    assert "that is 0.0.0.0" in s["detail"], s
    [p] = [f for f in host_findings(HOST_CASES[14][1]) if f["kind"] == "spice_exposed"]
    assert p["detail"] == "SPICE is set to listen on 0.0.0.0 (every interface) with a password", p


def test_vnc_drift_is_not_repeated_when_it_is_an_exposure():
    kinds = [f["kind"] for f in host_findings(HOST_CASES[9][1])]
    assert "vnc" not in kinds and "vnc_exposed" in kinds


def test_password_unknown_on_a_read_only_connection():
    case = dict(CLEAN_HOST, info=info(SERIAL0 + vnc("0.0.0.0")))
    case["info"]["vnc"]["password_set"] = None
    case["info"]["config"]["vnc"]["password_set"] = None
    [f] = [f for f in host_findings(case) if f["kind"] == "vnc_exposed"]
    assert "password unknown" in f["detail"], f


# ------------------------------------------------------------------------------------------------- guest side

GRUB_CFG = {
    "path": "/boot/grub/grub.cfg",
    "serial_command": "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1",
    "terminal_output": ["console", "serial"],
    "terminal_input": ["console", "serial"],
    "entries": 2,
    "consoles_default_entry": ["tty0", "ttyS0,115200n8"],
    "entries_without_console": 0,
}
CLEAN_GUEST = {
    "init": "systemd",
    "tty": {"name": "ttyS0", "live": True, "uart_type": 4},
    "boot": {"grub": "grub2"},
    "pam_securetty": {"active": False},
    "proc_cmdline": "BOOT_IMAGE=/vmlinuz root=UUID=x ro console=tty0 console=ttyS0,115200n8 quiet",
    "grub_cfg": GRUB_CFG,
    "default_grub": {"GRUB_TERMINAL": "console serial"},
    "getty": {"processes": ["/sbin/agetty -o -p -- \\u --keep-baud 115200,57600,38400,9600 ttyS0 vt220"],
              "systemd_active": "active", "enabled": "systemd unit enabled (etc/systemd/system/getty.target.wants/x)"},
}


def guest(**changes):
    g = copy.deepcopy(CLEAN_GUEST)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(g.get(key), dict):
            g[key].update(value)
        else:
            g[key] = value
    return g


VGA_ONLY = dict(GRUB_CFG, terminal_output=["console"], terminal_input=["console"], serial_command=None)
UNIT1 = GRUB_CFG["serial_command"].replace("unit=0", "unit=1")
SLOW = GRUB_CFG["serial_command"].replace("115200", "9600")
PAM = {"active": True, "file": "/etc/pam.d/login", "securetty_exists": True, "securetty": ["console", "tty1"]}

# (name, guest, host ports, settings, the kinds it must find)
GUEST_CASES = [
    ("clean", CLEAN_GUEST, [0], SETTINGS, []),
    ("no UART", guest(tty={"live": False, "uart_type": 0}), [0], SETTINGS, ["uart_missing"]),
    ("GRUB on VGA only", guest(grub_cfg=VGA_ONLY, default_grub={"GRUB_TERMINAL": "console"}), [0], SETTINGS,
     ["grub_terminal"]),
    ("GRUB 2 without grub.cfg", guest(grub_cfg=None), [0], SETTINGS, ["grub_terminal"]),
    ("no console= in grub.cfg", guest(grub_cfg=dict(GRUB_CFG, consoles_default_entry=[], entries_without_console=2)),
     [0], SETTINGS, ["kernel_console_config"]),
    ("console= configured, not booted yet", guest(proc_cmdline="root=UUID=x ro quiet"), [0], SETTINGS,
     ["kernel_console_running"]),
    ("GRUB on unit 1", guest(grub_cfg=dict(GRUB_CFG, serial_command=UNIT1)), [0], SETTINGS, ["port_mismatch"]),
    # the port named the platform's way (arm64-efi: efi0) is no line-settings mismatch; a wrong speed still is
    ("GRUB on efi0", guest(grub_cfg=dict(GRUB_CFG, serial_command="serial --speed=115200 --word=8 --parity=no "
                                         "--stop=1 efi0")), [0], SETTINGS, []),
    ("GRUB on efi0 at 9600", guest(grub_cfg=dict(GRUB_CFG, serial_command="serial --speed=9600 --word=8 --parity=no "
                                                 "--stop=1 efi0")), [0], SETTINGS, ["speed_mismatch"]),
    # a PC BIOS GRUB names port 1 by its address (grub_serial writes --port=0x2f8 for ttyS1)
    ("GRUB on COM2's address", guest(grub_cfg=dict(GRUB_CFG, serial_command=UNIT1.replace("--unit=1", "--port=0x2f8"))),
     [0], SETTINGS, ["port_mismatch"]),
    ("kernel console on a port the domain lacks",
     guest(grub_cfg=dict(GRUB_CFG, consoles_default_entry=["tty0", "ttyS0,115200n8", "ttyS2,115200n8"])), [0],
     SETTINGS, ["port_mismatch"]),
    ("host ports unknown: no port judgement",
     guest(grub_cfg=dict(GRUB_CFG, consoles_default_entry=["tty0", "ttyS0,115200n8", "ttyS2,115200n8"])), None,
     SETTINGS, []),
    ("GRUB at 9600", guest(grub_cfg=dict(GRUB_CFG, serial_command=SLOW)), [0], SETTINGS, ["speed_mismatch"]),
    ("kernel at 9600", guest(proc_cmdline="root=x console=ttyS0,9600n8"), [0], SETTINGS, ["speed_mismatch"]),
    ("no getty", guest(getty={"processes": [], "systemd_active": "inactive", "enabled": None}), [0], SETTINGS,
     ["getty"]),
    ("getty not started at the next boot", guest(getty={"enabled": None}), [0], SETTINGS, ["getty"]),
    ("securetty locks root out", guest(pam_securetty=PAM, proc_cmdline="root=x console=ttyS0,115200n8 console=tty0"),
     [0], SETTINGS, ["securetty"]),
    ("securetty: ttyS0 is /dev/console", guest(pam_securetty=PAM), [0], SETTINGS, []),
    ("all on port 1", guest(
        tty={"name": "ttyS1"}, proc_cmdline="root=x console=tty0 console=ttyS1,115200n8",
        grub_cfg=dict(GRUB_CFG, serial_command=UNIT1,
                      consoles_default_entry=["tty0", "ttyS1,115200n8"])), [0, 1], dict(SETTINGS, port=1), []),
]


@pytest.mark.parametrize("name, g, ports, settings, want", GUEST_CASES, ids=[c[0] for c in GUEST_CASES])
def test_guest_case(name, g, ports, settings, want):
    got = _findings.guest_findings(settings, g, ports)
    assert sorted({f["kind"] for f in got}) == sorted(want), got
    for f in got:
        assert f["side"] == "guest" and f["detail"] and f["fix"], f


def test_guest_fixes_say_what_to_run():
    stale = guest(grub_cfg=VGA_ONLY)  # the drop-in has serial: grub.cfg is just stale
    assert _findings.guest_findings(SETTINGS, stale, [0])[0]["fix"] == "run update-grub"
    [f] = _findings.guest_findings(SETTINGS, guest(proc_cmdline="root=x"), [0])
    assert "restart is pending" in f["detail"] and f["fix"].startswith("power-cycle the domain"), f
    [f] = _findings.guest_findings(SETTINGS, guest(init="sysvinit", getty={"processes": [], "systemd_active": None}),
                                   [0])
    assert "inittab" in f["fix"], f
    [f] = _findings.guest_findings(SETTINGS, guest(grub_cfg=dict(GRUB_CFG, consoles_default_entry=[])), [0])
    assert f["fix"] == "run the guest role (grub: console=ttyS0,115200n8)", f


def test_unreadable_and_unreachable():
    [h] = _findings.unreadable("hv1 (qemu:///system), domain d1: domain_serial: no such domain")
    assert (h["side"], h["kind"]) == ("host", "host_unreadable") and "no such domain" in h["detail"]
    [g] = _findings.unreachable("ssh: connect refused" + "x" * 500, "web1")
    assert (g["side"], g["kind"]) == ("guest", "guest_unreachable") and len(g["detail"]) < 340
    assert g["fix"] == "check ssh to the guest (ansible -m ping web1)"


# ------------------------------------------------------------------------------------------------------ table


def test_every_kind_of_the_table_is_found_by_a_case():
    found = {f["kind"] for case in HOST_CASES for f in host_findings(case[1])}
    found |= {f["kind"] for case in GUEST_CASES for f in _findings.guest_findings(case[3], case[1], case[2])}
    found |= {"host_unreadable", "guest_unreachable"}  # made by unreadable()/unreachable(), tested above
    assert found == set(_findings.KINDS), set(_findings.KINDS) ^ found


def test_table_entries():
    names = [k.name for k in _findings.TABLE]
    assert len(names) == len(set(names))
    assert {k.side for k in _findings.TABLE} == {"host", "guest"}
    assert [k.name for k in _findings.TABLE if not k.drift] == ["domain_not_running"]
    for k in _findings.TABLE:
        assert k.means and k.fix, k
        assert (k.check is None) == (k.name in ("host_unreadable", "guest_unreachable")), k


def test_docs_list_every_kind_as_the_table_says():
    docs = os.path.join(os.path.dirname(__file__), *[".."] * 4, "docs", "fleet.md")
    with open(docs, encoding="utf-8") as f:
        rows = [line for line in f if line.startswith("| ") and "` | " in line]
    for k in _findings.TABLE:
        assert "| %s | `%s` | %s |\n" % (k.side, k.name, k.means) in rows, "docs/fleet.md lacks the row of %s" % k.name


def test_is_drift():
    assert not _findings.is_drift([])
    assert not _findings.is_drift(_findings.domain_findings(SETTINGS, info(SERIAL0 + VNC_LOOP)))
    assert _findings.is_drift(_findings.unreadable("x"))


# ------------------------------------------------------------------------------------------- the doctor's chain


def chain(host=None, gf=(), read=True):
    host = host or CLEAN_HOST
    return _findings.chain(SETTINGS, host["info"], host.get("serial"), list(gf), read, "web1", "d1")


def test_chain_all_ok():
    c = chain()
    assert [link["status"] for link in c["links"]] == ["ok"] * 6
    assert c["first_broken"] is None and c["first_broken_index"] is None and c["fix"] is None


@pytest.mark.parametrize("host, gf, index", [
    (dict(CLEAN_HOST, serial={"changed": True, "changes": ["add serial port 0 (pty, isa-serial)"]}), [], 1),
    (dict(CLEAN_HOST, info=info(SERIAL0 + VNC_LOOP, VNC_LOOP)), [], 2),
    (dict(CLEAN_HOST, info=info(SERIAL0 + VNC_LOOP)), [], 2),
    (CLEAN_HOST, _findings.guest_findings(SETTINGS, guest(tty={"live": False}), [0]), 2),
    (CLEAN_HOST, _findings.guest_findings(SETTINGS, guest(proc_cmdline="root=x"), [0]), 3),
    (CLEAN_HOST, _findings.guest_findings(SETTINGS, guest(getty={"processes": [], "systemd_active": "dead"}), [0]), 4),
    (CLEAN_HOST, _findings.guest_findings(SETTINGS, guest(grub_cfg=VGA_ONLY), [0]), 5),
    (CLEAN_HOST, _findings.guest_findings(SETTINGS, guest(pam_securetty=PAM, proc_cmdline="console=ttyS0 console=tty0"),
                                          [0]), 6),
], ids=["no serial", "serial not live", "shut off", "no UART", "no console=", "no getty", "GRUB on VGA", "securetty"])
def test_chain_first_broken(host, gf, index):
    c = chain(host, gf)
    assert c["first_broken_index"] == index, c["links"]
    assert c["first_broken"] == c["links"][index - 1]["link"] and c["fix"], c


def test_chain_unknown_when_the_guest_was_not_read():
    c = chain(gf=_findings.unreachable("timeout", "web1"), read=False)
    assert [link["status"] for link in c["links"]] == ["ok", "ok"] + ["unknown"] * 4
    assert "the guest could not be read: the guest could not be read: timeout" in c["links"][2]["evidence"]
    assert c["first_broken"] is None
    c = chain(dict(CLEAN_HOST, serial={"changed": True, "changes": ["add serial port 0"]}), read=False)
    assert c["links"][0]["evidence"] == "add serial port 0" and c["first_broken_index"] == 1
