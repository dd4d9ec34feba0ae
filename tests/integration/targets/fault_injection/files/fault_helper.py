# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test's side of the faults (runme.sh calls it): make diskless domains, hold a tcp port, wait for the
module's define, undefine a domain, run a concurrent `virsh define` writer, check what was kept."""

import json
import socket
import subprocess
import sys
import time

import libvirt

URI = "qemu:///system"
FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
DOMAIN = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>48</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>%s</devices>
</domain>"""
SERIAL3 = "<serial type='pty'><target type='isa-serial' port='3'><model name='isa-serial'/></target></serial>"


def conn():
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    return libvirt.open(URI)


def make(prefix, names, running=False, devices=""):
    c = conn()
    for name in names.split(","):
        dom = c.defineXML(DOMAIN % (prefix + name, devices))
        if running:
            dom.create()


def cleanup(prefix):
    c = conn()
    for d in c.listAllDomains(0):
        if d.name().startswith(prefix):
            try:
                if d.isActive():
                    d.destroy()
                d.undefine()
            except libvirt.libvirtError:
                pass


def wait_xml(name, needle, absent, timeout_s):
    """Wait until the persistent XML of ``name`` has (or no longer has) ``needle``: the module's define."""
    c = conn()
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        try:
            xml = c.lookupByName(name).XMLDesc(FLAGS)
        except libvirt.libvirtError:
            xml = ""
        if (needle in xml) != (absent == "absent"):
            print("%s: define seen after waiting" % name)
            return
        time.sleep(0.05)
    sys.exit("%s: the module's define was not seen within %s s" % (name, timeout_s))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def hold(port, ready_file):
    """Listen on 127.0.0.1:port until killed, so that qemu cannot bind it."""
    s = socket.socket()
    s.bind(("127.0.0.1", int(port)))
    s.listen(1)
    with open(ready_file, "w") as f:
        f.write("listening\n")
    while True:
        time.sleep(1)


def foreign_with_serial3(prefix):
    """all_domains works on every domain of qemu:///system: refuse to run if another team's domain would change."""
    c = conn()
    bad = []
    for d in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT):
        if d.name().startswith(prefix):
            continue
        try:
            xml = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError:
            continue
        if "port='3'" in xml and "<serial" in xml:
            bad.append(d.name())
    if bad:
        sys.exit("other domains have a serial port 3 and would be changed by the all_domains phase: %s" % bad)


def writer(prefix, names, seconds, log):
    """`virsh define` in a loop: dumpxml, set <description>, define, for each domain, until ``seconds`` pass."""
    written = {}
    deadline = time.monotonic() + float(seconds)
    gen = 0
    doms = [prefix + n for n in names.split(",")]
    while time.monotonic() < deadline:
        gen += 1
        for name in doms:
            if gen > 1 and time.monotonic() >= deadline:
                break  # the first round always completes: every domain is written at least once
            xml = subprocess.run(["virsh", "-q", "-c", URI, "dumpxml", "--inactive", "--security-info", name],
                                 check=True, capture_output=True, text=True).stdout
            if "<description>" in xml:
                head, rest = xml.split("<description>", 1)
                xml = head + "<description>writer gen %d</description>" % gen + rest.split("</description>", 1)[1]
            else:
                xml = xml.replace("</name>", "</name>\n  <description>writer gen %d</description>" % gen, 1)
            with open("/tmp/tf-fi-writer.xml", "w") as f:
                f.write(xml)
            subprocess.run(["virsh", "-q", "-c", URI, "define", "/tmp/tf-fi-writer.xml"], check=True,
                           capture_output=True)
            written[name] = gen
    with open(log, "w") as f:
        json.dump({"rounds": gen, "written": written}, f)
    print("writer: %d rounds over %d domains" % (gen, len(doms)))


def both_kept(prefix, names, log):
    """Every domain has the writer's last description and our serial port 0."""
    with open(log) as f:
        written = json.load(f)["written"]
    c = conn()
    problems = []
    for n in names.split(","):
        name = prefix + n
        xml = c.lookupByName(name).XMLDesc(FLAGS)
        want = "<description>writer gen %d</description>" % written[name]
        if want not in xml:
            problems.append("%s: the writer's last change (%s) is lost" % (name, want))
        if "<serial type='pty'>" not in xml or "port='0'" not in xml:
            problems.append("%s: our serial port 0 is lost" % name)
    if problems:
        sys.exit("\n".join(problems))
    print("both kept on %d domains" % len(names.split(",")))


if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
