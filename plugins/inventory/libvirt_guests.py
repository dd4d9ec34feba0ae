# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: libvirt_guests
short_description: Every libvirt domain of a list of hypervisors as a guest of the serial console fleet
version_added: 0.1.0
description:
  - Connects to each hypervisor's libvirt URI from the controller (C(qemu+ssh://) included), lists every domain
    and makes each one a host of the C(guests) group with C(serial_console_hypervisor),
    C(serial_console_domain) and C(serial_console_uri) set, the variables the C(rollout), C(audit) and C(doctor)
    playbooks read. The hypervisors become hosts of the C(hypervisors) group.
  - Each domain's persistent config is read with C(VIR_DOMAIN_XML_INACTIVE|VIR_DOMAIN_XML_SECURE) (and, when it
    runs, its live definition) and summarised by the same pure parser as C(domain_console_info). A VNC password
    never reaches a host variable; only whether one is set.
  - "Groups by console state: C(serial_console_missing) (no serial or console device in effect: C(virsh console)
    has nothing to attach to), C(restart_pending) (the running domain differs from its config in those devices),
    C(vnc_exposed) (VNC listens, or will listen from the next start, beyond loopback, as the collection's exposure
    policy classifies the address), and C(state_<power state>) (C(state_running), C(state_shutoff) ...)."
  - C(ansible_host) comes from libvirt's own sources, where they exist, for running domains only, in the order of
    O(address_sources). No connection plugin or other connection variable is ever set; a guest without a
    known address keeps its inventory name as its address.
  - A hypervisor that cannot be read is reported (a warning, group C(libvirt_unreachable) and the host variable
    C(serial_console_inventory_error) on it) and the others are still listed, unless O(strict_hypervisors=true).
  - Supports C(constructed) (O(compose), O(groups), O(keyed_groups)) and inventory caching.
author:
  - ttyfleet maintainers (@ttyfleet)
requirements:
  - libvirt-python on the controller; for C(qemu+ssh://), an ssh key the controller's libvirt client can use
    without a prompt.
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; the file must end in C(libvirt_guests.yml) or C(libvirt_guests.yaml).
    required: true
    type: str
    choices: [ttyfleet.serial_console.libvirt_guests]
  hypervisors:
    description: The hypervisors to read, in this order.
    required: true
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The hypervisor's inventory name (where the host modules run, with C(delegate_to)).
          - Letters, digits, C(.), C(_), C(-); at most 253 characters.
        type: str
        required: true
      uri:
        description:
          - The libvirt URI the controller reads the domains with, such as C(qemu+ssh://root@kvm1.example.org/system),
            C(qemu:///system) or C(test:///default).
          - Transports C(ssh), C(libssh), C(libssh2), C(tls), C(tcp), C(unix) of the C(qemu) or C(test) drivers.
            The C(ext) transport and the C(command) and C(netcat) parameters (which run a command) are refused.
        type: str
        required: true
      guest_uri:
        description:
          - The value of C(serial_console_uri) for this hypervisor's guests, that is, the URI the host modules use
            B(on the hypervisor).
          - Default, O(hypervisors[].uri) without its transport, user, host and parameters
            (C(qemu+ssh://root@kvm1/system) gives C(qemu:///system)).
        type: str
      domain_regex:
        description:
          - Only domains whose name matches this Python regular expression (C(re.search)); default all.
          - Several inventory hypervisors may share one libvirtd and split its domains this way.
        type: str
      vars:
        description:
          - Variables to set on the hypervisor's host, such as C(ansible_host) or C(ansible_user).
        type: dict
        default: {}
  read_only:
    description:
      - Open read-only connections. libvirt refuses C(VIR_DOMAIN_XML_SECURE) on them, so
        C(serial_console_inventory.vnc_password_set) is then V(null) (unknown).
    type: bool
    default: false
  address_sources:
    description:
      - Where C(ansible_host) of a running domain comes from, tried in this order; the first IPv4 address wins
        (else the first IPv6 one).
      - C(lease), the DHCP leases of the hypervisor's libvirt networks, matched by MAC (one call per network).
      - C(agent), the QEMU guest agent, asked only when the live XML shows its channel connected.
      - C(arp), the hypervisor's ARP table as libvirt reads it.
      - An empty list sets no C(ansible_host).
    type: list
    elements: str
    choices: [lease, agent, arp]
    default: [lease, agent, arp]
  strict_hypervisors:
    description: Fail the inventory when a hypervisor cannot be read, instead of reporting it.
    type: bool
    default: false
  workers:
    description:
      - How many hypervisors are read at the same time (one libvirt connection each).
    type: int
    default: 8
notes:
  - "Host names are the domain names. A domain name found on several hypervisors becomes
    C(<domain>@<hypervisor>) on each of them (with a warning); C(serial_console_domain) keeps libvirt's name."
  - "Every guest gets C(serial_console_inventory): C(uuid), C(state), C(active), C(persistent),
    C(serial_console_missing), C(restart_pending), C(pending_changes), C(vnc_exposed), C(vnc_listen),
    C(vnc_password_set), C(log_file) (of the console C(virsh console) opens), C(addresses) (every address found:
    C(source), C(mac), C(address)). Each hypervisor gets C(serial_console_inventory_domains) (its domain names)."
"""

EXAMPLES = r"""
# fleet.libvirt_guests.yml
plugin: ttyfleet.serial_console.libvirt_guests
hypervisors:
  - name: kvm1.example.org
    uri: qemu+ssh://root@kvm1.example.org/system
  - name: kvm2.example.org
    uri: qemu+ssh://root@kvm2.example.org/system?keyfile=/home/ops/.ssh/fleet
    vars:
      ansible_user: root
keyed_groups:
  - key: serial_console_hypervisor
    prefix: hv
compose:
  serial_console_speed: 115200
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ttyfleet-inventory
cache_timeout: 600

# ansible-inventory -i fleet.libvirt_guests.yml --graph
# ansible-playbook -i fleet.libvirt_guests.yml ttyfleet.serial_console.audit
"""

import re  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from urllib.parse import parse_qsl, urlsplit  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _exposure,
    _libvirt,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (  # noqa: E402
    ConsoleInfoError,
    describe_domain,
    state_name,
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_URI_RE = re.compile(r"^(qemu|test)(\+(ssh|libssh|libssh2|tls|tcp|unix))?://[^\s\x00-\x1f\x7f]*$")
_REFUSED_PARAMS = ("command", "netcat")
_AGENT_CHANNEL = "org.qemu.guest_agent.0"

GUESTS = "guests"
HYPERVISORS = "hypervisors"
UNREACHABLE = "libvirt_unreachable"


class InventoryConfigError(ValueError):
    """A hypervisor entry that is not allowed; the message names the option."""


def check_hypervisor(index, entry):
    """The validated hypervisor entry as a plain dict, or InventoryConfigError naming the option."""
    where = "hypervisors[%d]" % index
    if not isinstance(entry, dict):
        raise InventoryConfigError("%s must be a mapping with name and uri" % where)
    unknown = sorted(set(entry) - {"name", "uri", "guest_uri", "domain_regex", "vars"})
    if unknown:
        raise InventoryConfigError("%s has unknown keys %s; allowed: name, uri, guest_uri, domain_regex, vars"
                                   % (where, ", ".join(unknown)))
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InventoryConfigError("%s.name must be an inventory host name (letters, digits, '.', '_', '-', "
                                   "at most 253 characters)" % where)
    uri = check_uri(entry.get("uri"), "%s.uri" % where)
    guest_uri = entry.get("guest_uri")
    guest_uri = check_uri(guest_uri, "%s.guest_uri" % where) if guest_uri is not None else local_uri(uri)
    regex = entry.get("domain_regex")
    if regex is not None:
        if not isinstance(regex, str):
            raise InventoryConfigError("%s.domain_regex must be a string" % where)
        try:
            re.compile(regex)
        except re.error as e:
            raise InventoryConfigError("%s.domain_regex is not a valid regular expression: %s" % (where, e)) from e
    host_vars = entry.get("vars") or {}
    if not isinstance(host_vars, dict):
        raise InventoryConfigError("%s.vars must be a mapping" % where)
    return {"name": name, "uri": uri, "guest_uri": guest_uri, "domain_regex": regex, "vars": host_vars}


def check_uri(uri, option):
    if not isinstance(uri, str) or not _URI_RE.match(uri):
        raise InventoryConfigError(
            "%s must be a libvirt URI of the qemu or test driver (transports ssh, libssh, libssh2, tls, tcp, unix), "
            "without spaces or control characters" % option)
    params = {k.lower() for k, _v in parse_qsl(urlsplit(uri).query, keep_blank_values=True)}
    refused = sorted(params & set(_REFUSED_PARAMS))
    if refused:
        raise InventoryConfigError("%s must not set %s (it makes libvirt run a command)" % (option, ", ".join(refused)))
    return uri


def local_uri(uri):
    """The URI a module running on the hypervisor itself uses: driver and path, no transport, host or parameters."""
    parts = urlsplit(uri)
    driver = parts.scheme.split("+", 1)[0]
    return "%s://%s" % (driver, parts.path or "/")


# --- what one domain contributes (pure: XML in, plain data out) --------------------------------------------------


def _vnc_exposed(info):
    vnc = info.get("vnc")
    if not vnc or vnc.get("listen_type") not in (None, "address") or not vnc.get("listen"):
        return False  # a socket, none, or qemu.conf's vnc_listen (loopback unless the host says otherwise)
    return _exposure.is_exposed(vnc["listen"])


def domain_entry(name, uuid, state, persistent, config_xml, live_xml, secure):
    """The inventory's summary of one domain, from the persistent and live XML (either may be None)."""
    info = describe_domain(config_xml, live_xml, secure=secure)
    config = describe_domain(config_xml, None, secure=secure) if (config_xml and live_xml) else info
    vnc = info.get("vnc") or config.get("vnc") or {}
    return {
        "name": name,
        "uuid": uuid,
        "state": state,
        "active": live_xml is not None,
        "persistent": persistent,
        "serial_console_missing": not (info["serials"] or info["consoles"]),
        "restart_pending": info["restart_pending"],
        "pending_changes": info["pending_changes"],
        "vnc_exposed": _vnc_exposed(info) or _vnc_exposed(config),
        "vnc_listen": vnc.get("listen"),
        "vnc_password_set": vnc.get("password_set"),
        "log_file": info["log_file"],
        "macs": interface_macs(live_xml) if live_xml else [],
        "agent_connected": agent_connected(live_xml) if live_xml else False,
        "addresses": [],
    }


def interface_macs(live_xml):
    root = ET.fromstring(live_xml)
    return [m.get("address").lower() for m in root.findall("devices/interface/mac") if m.get("address")]


def agent_connected(live_xml):
    root = ET.fromstring(live_xml)
    for target in root.findall("devices/channel/target"):
        if target.get("name") == _AGENT_CHANNEL and target.get("state") == "connected":
            return True
    return False


def pick_address(addresses):
    """The first IPv4 address found, else the first IPv6 one, else None (loopback and link-local never)."""
    usable = []
    for a in addresses:
        kind = _exposure.classify(a["address"])
        if kind.kind != _exposure.REMOTE or a["address"].lower().startswith("fe80:"):
            continue
        usable.append(a["address"])
    v4 = [a for a in usable if ":" not in a]
    return (v4 or usable or [None])[0]


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "ttyfleet.serial_console.libvirt_guests"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("libvirt_guests.yml", "libvirt_guests.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            hypervisors = [check_hypervisor(i, e) for i, e in enumerate(self.get_option("hypervisors") or [])]
        except InventoryConfigError as e:
            raise AnsibleParserError("%s: %s" % (path, e)) from e
        if not hypervisors:
            raise AnsibleParserError("%s: hypervisors must list at least one hypervisor" % path)
        names = [h["name"] for h in hypervisors]
        if len(set(names)) != len(names):
            raise AnsibleParserError("%s: hypervisors lists a name twice: %s"
                                     % (path, ", ".join(sorted({n for n in names if names.count(n) > 1}))))

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        results = None
        if use_cache:
            try:
                results = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if results is None:
            # libvirt-python lets go of the GIL while it waits for libvirtd: hypervisors are read side by side
            with ThreadPoolExecutor(max_workers=max(1, min(self.get_option("workers"), len(hypervisors)))) as pool:
                results = list(pool.map(self._read_hypervisor, hypervisors))
            for r in results:
                if r["error"] is not None:
                    if self.get_option("strict_hypervisors"):
                        raise AnsibleParserError("hypervisor %s: %s" % (r["name"], r["error"]))
                    self.display.warning("libvirt_guests: hypervisor %s left out: %s" % (r["name"], r["error"]))
        if update_cache:
            self._cache[cache_key] = results
        self._populate(hypervisors, results)

    # --- reading -------------------------------------------------------------------------------------------------

    def _read_hypervisor(self, hv):
        """{'name', 'error', 'domains': [domain_entry ...]} for one hypervisor; never raises for libvirt trouble."""
        if _libvirt.LIBVIRT_IMPORT_ERROR is not None:
            raise AnsibleParserError("the libvirt_guests inventory needs libvirt-python on the controller")
        conn = None
        try:
            conn = _libvirt.connect(hv["uri"], readonly=self.get_option("read_only"))
            domains = self._read_domains(conn, hv)
            error = None
        except (_libvirt.LibvirtFailure, ConsoleInfoError) as e:
            domains, error = [], str(e)
        finally:
            _libvirt.close_quietly(conn)
        return {"name": hv["name"], "error": error, "domains": domains}

    def _read_domains(self, conn, hv):
        uri, secure = hv["uri"], not self.get_option("read_only")
        regex = re.compile(hv["domain_regex"]) if hv["domain_regex"] else None
        selected = [s for s in _libvirt.select_domains(conn, uri) if regex is None or regex.search(s.name)]
        states = _libvirt.domain_states(conn, [s.dom for s in selected])
        active = _libvirt.active_uuids(conn, uri)
        entries = []
        for s in selected:
            try:
                live = s.uuid in active
                config_xml = _libvirt.read_domain_xml(s.dom, inactive=True, secure=secure) if s.persistent else None
                live_xml = _libvirt.read_domain_xml(s.dom, secure=secure) if live else None
            except _libvirt.DomainGone:
                continue  # undefined while we read: it is no longer part of the fleet
            try:
                entries.append(domain_entry(s.name, s.uuid, state_name(states.get(s.uuid)), s.persistent,
                                            config_xml, live_xml, secure))
            except ConsoleInfoError as e:
                raise ConsoleInfoError("domain %s: %s" % (s.name, e)) from e
        self._find_addresses(conn, entries, [s.dom for s in selected])
        return entries

    def _find_addresses(self, conn, entries, doms):
        sources = self.get_option("address_sources") or []
        running = [e for e in entries if e["active"] and e["macs"]]
        if not running or not sources:
            return
        by_uuid = {d.UUIDString(): d for d in doms}
        leases = self._leases(conn) if "lease" in sources else {}
        for e in running:
            for source in sources:
                if source == "lease":
                    found = [{"source": "lease", "mac": m, "address": a} for m in e["macs"] for a in leases.get(m, [])]
                elif source == "agent" and not e["agent_connected"]:
                    continue
                else:
                    found = self._interface_addresses(by_uuid[e["uuid"]], source, e["macs"])
                e["addresses"].extend(found)

    @staticmethod
    def _leases(conn):
        libvirt = _libvirt.libvirt
        leases = {}
        try:
            networks = conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)
        except libvirt.libvirtError:
            return leases
        for net in networks:
            try:
                for lease in net.DHCPLeases():
                    if lease.get("mac") and lease.get("ipaddr"):
                        leases.setdefault(lease["mac"].lower(), []).append(lease["ipaddr"])
            except libvirt.libvirtError:
                continue  # a driver or network without leases
        return leases

    @staticmethod
    def _interface_addresses(dom, source, macs):
        libvirt = _libvirt.libvirt
        flag = {"agent": libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                "arp": libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP}[source]
        try:
            ifaces = dom.interfaceAddresses(flag)
        except libvirt.libvirtError:
            return []  # no agent answer, no ARP entry: no address from this source
        found = []
        for iface in (ifaces or {}).values():
            mac = (iface.get("hwaddr") or "").lower()
            if source == "agent" and mac not in macs:
                continue  # the guest's loopback and interfaces the hypervisor does not provide
            for a in iface.get("addrs") or []:
                if a.get("addr"):
                    found.append({"source": source, "mac": mac, "address": a["addr"]})
        return found

    # --- populating ----------------------------------------------------------------------------------------------

    def _populate(self, hypervisors, results):
        inv = self.inventory
        for group in (GUESTS, HYPERVISORS):
            inv.add_group(group)
        strict = self.get_option("strict")
        by_name = {h["name"]: h for h in hypervisors}
        seen = {}
        for r in results:
            for d in r["domains"]:
                seen.setdefault(d["name"], []).append(r["name"])
        clashes = {n for n, hvs in seen.items() if len(hvs) > 1}
        if clashes:
            self.display.warning("libvirt_guests: domain names found on several hypervisors are named "
                                 "<domain>@<hypervisor>: %s" % ", ".join(sorted(clashes)[:20]))
        for r in results:
            hv = by_name[r["name"]]
            inv.add_host(hv["name"], group=HYPERVISORS)
            for key, value in hv["vars"].items():
                inv.set_variable(hv["name"], key, value)
            inv.set_variable(hv["name"], "serial_console_inventory_domains", [d["name"] for d in r["domains"]])
            if r["error"] is not None:
                inv.add_group(UNREACHABLE)
                inv.add_host(hv["name"], group=UNREACHABLE)
                inv.set_variable(hv["name"], "serial_console_inventory_error", r["error"])
                continue
            for d in r["domains"]:
                host = "%s@%s" % (d["name"], hv["name"]) if d["name"] in clashes else d["name"]
                self._add_guest(host, hv, d, strict)

    def _add_guest(self, host, hv, d, strict):
        inv = self.inventory
        inv.add_host(host, group=GUESTS)
        address = pick_address(d["addresses"])
        hostvars = {
            "serial_console_hypervisor": hv["name"],
            "serial_console_domain": d["name"],
            "serial_console_uri": hv["guest_uri"],
            "serial_console_inventory": {k: d[k] for k in (
                "uuid", "state", "active", "persistent", "serial_console_missing", "restart_pending",
                "pending_changes", "vnc_exposed", "vnc_listen", "vnc_password_set", "log_file", "addresses")},
        }
        if address is not None:
            hostvars["ansible_host"] = address
        for key, value in hostvars.items():
            inv.set_variable(host, key, value)
        groups = ["state_%s" % d["state"]]
        groups += [g for g in ("serial_console_missing", "restart_pending", "vnc_exposed") if d[g]]
        for group in groups:
            inv.add_group(group)
            inv.add_host(host, group=group)
        self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)
