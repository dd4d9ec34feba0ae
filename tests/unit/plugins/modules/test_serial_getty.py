# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""serial_getty on prepared root trees: check mode predicts and writes nothing, the drop-in and the wants-link are
made in one call, a second call changes nothing, the drop-in is removed when no longer wanted, a wrong link is
corrected, and nothing is started outside a booted root (the start itself is proven on booted guests: Molecule)."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ttyfleet.serial_console.plugins.modules import serial_getty

DROPIN = "[Service]\nExecStart=\nExecStart=-/sbin/agetty --keep-baud 115200,57600,38400,9600 %I $TERM\n"
LINK = "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
CONF = "etc/systemd/system/serial-getty@ttyS0.service.d/ttyfleet.conf"


def run(capsys, root, check=False, diff=False, **args):
    args = dict(dict(tty="ttyS0", root=str(root)), **args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            serial_getty.main()
    return json.loads(capsys.readouterr().out)


def tree(root):
    out = []
    for d, _dirs, files in os.walk(str(root)):
        for f in files:
            p = os.path.join(d, f)
            out.append((os.path.relpath(p, str(root)), os.readlink(p) if os.path.islink(p) else open(p).read()))
    return sorted(out)


def test_check_mode_predicts_then_one_call_writes_both(tmp_path, capsys):
    res = run(capsys, tmp_path, check=True, diff=True, dropin=DROPIN)
    assert res["changed"] and res["dropin_changed"] and res["link_changed"], res
    assert not res["started"] and not res["restarted"]
    assert (
        res["diff"][0]["after"] == DROPIN and res["diff"][1]["after"] == "/lib/systemd/system/serial-getty@.service\n"
    )
    assert tree(tmp_path) == [], "check mode wrote files"
    res = run(capsys, tmp_path, dropin=DROPIN)
    assert res["changed"] and res["dropin_changed"] and res["link_changed"]
    assert (tmp_path / CONF).read_text() == DROPIN
    assert oct((tmp_path / CONF).stat().st_mode & 0o777) == "0o644"
    assert os.readlink(str(tmp_path / LINK)) == "/lib/systemd/system/serial-getty@.service"
    before = tree(tmp_path)
    for check in (False, True):
        res = run(capsys, tmp_path, check=check, dropin=DROPIN)
        assert not res["changed"], res
    assert tree(tmp_path) == before


def test_dropin_removed_when_not_wanted_and_link_corrected(tmp_path, capsys):
    run(capsys, tmp_path, dropin=DROPIN)
    other = tmp_path / "etc/systemd/system/serial-getty@ttyS0.service.d/override.conf"
    other.write_text("[Service]\n")
    os.unlink(str(tmp_path / LINK))
    os.symlink("/nonexistent/serial-getty@.service", str(tmp_path / LINK))
    res = run(capsys, tmp_path, unit_dir="/usr/lib/systemd/system")
    assert res["dropin_changed"] and res["link_changed"], res
    assert not (tmp_path / CONF).exists() and other.exists(), "only this collection's drop-in goes"
    assert os.readlink(str(tmp_path / LINK)) == "/usr/lib/systemd/system/serial-getty@.service"
    assert not run(capsys, tmp_path, unit_dir="/usr/lib/systemd/system")["changed"]


def test_no_start_outside_a_booted_root(tmp_path, capsys):
    # start=true on a fixture root: files only, and no systemctl is looked for (there is none here)
    res = run(capsys, tmp_path, start=True)
    assert res["link_changed"] and not res["started"] and not res["restarted"], res


@pytest.mark.parametrize(
    "args, words",
    [
        (dict(tty="tty0"), "not a serial device name"),
        (dict(tty="ttyS0\n"), "not a serial device name"),
        (dict(unit_dir="lib/systemd"), "unit_dir must be an absolute path"),
    ],
)
def test_bad_input_fails_before_any_write(tmp_path, capsys, args, words):
    res = run(capsys, tmp_path, **args)
    assert res["failed"] and words in res["msg"], res
    assert tree(tmp_path) == []
