# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a Sphinx inventory (objects.inv) of the Ansible docs targets that collection docs refer to, so the docs
site builds offline (no intersphinx download) and its links still point at the real pages on docs.ansible.com.

  ansible_inventory.py OUT.inv
Every environment variable of ansible-core's configuration (from the installed ansible-core) and the few labels
antsibull-docs' templates use.
"""

import sys
import zlib
from pathlib import Path

import ansible.config
import yaml

LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "module_defaults": ("playbook_guide/playbooks_module_defaults.html", "Module defaults"),
    "playbooks_vault": ("vault_guide/index.html", "Protecting sensitive data with Ansible vault"),
    "developing_modules_general": ("dev_guide/developing_modules_general.html", "Developing modules"),
}


def main():
    base = yaml.safe_load((Path(ansible.config.__file__).parent / "base.yml").read_text())
    envvars = sorted({e["name"] for setting in base.values() for e in (setting.get("env") or [])})
    lines = ["%s std:label -1 %s %s" % (name, uri, title) for name, (uri, title) in sorted(LABELS.items())]
    lines += ["%s std:envvar 1 reference_appendices/config.html#envvar-$ -" % v for v in envvars]
    body = zlib.compress(("\n".join(lines) + "\n").encode())
    head = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
    head += b"# The remainder of this file is compressed using zlib.\n"
    Path(sys.argv[1]).write_bytes(head + body)
    print("%s: %d labels, %d environment variables" % (sys.argv[1], len(LABELS), len(envvars)), file=sys.stderr)


if __name__ == "__main__":
    main()
