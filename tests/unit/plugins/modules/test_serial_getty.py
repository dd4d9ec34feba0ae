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


DEVICE = "etc/systemd/system/dev-ttyS0.device.d/ttyfleet.conf"


def test_device_dropin_check_mode_diff_write_change_remove(tmp_path, capsys):
    # A late udev on a starved boot must not fail the getty's job: the tty's device unit waits device_timeout_s.
    res = run(capsys, tmp_path, check=True, diff=True, device_timeout_s=300)
    assert res["changed"] and res["device_dropin_changed"] and not res["dropin_changed"], res
    diff = res["diff"][2]
    assert diff["before_header"] == "/" + DEVICE and diff["before"] == ""
    assert "[Unit]\nJobRunningTimeoutSec=300\n" in diff["after"]
    assert tree(tmp_path) == [], "check mode wrote files"
    res = run(capsys, tmp_path, device_timeout_s=300)
    assert res["device_dropin_changed"] and res["link_changed"], res
    text = (tmp_path / DEVICE).read_text()
    assert text.endswith("[Unit]\nJobRunningTimeoutSec=300\n")
    assert oct((tmp_path / DEVICE).stat().st_mode & 0o777) == "0o644"
    for check in (False, True):
        assert not run(capsys, tmp_path, check=check, device_timeout_s=300)["changed"]
    res = run(capsys, tmp_path, diff=True, device_timeout_s=600)
    assert res["device_dropin_changed"] and res["diff"][2]["before"] == text, res
    assert "JobRunningTimeoutSec=600\n" in res["diff"][2]["after"]
    other = tmp_path / "etc/systemd/system/dev-ttyS0.device.d/50-admin.conf"
    other.write_text("[Unit]\nJobRunningTimeoutSec=infinity\n")
    res = run(capsys, tmp_path, diff=True)
    assert res["device_dropin_changed"] and res["diff"][2]["after"] == "", res
    assert not (tmp_path / DEVICE).exists() and other.exists(), "only this collection's drop-in goes"
    assert not run(capsys, tmp_path)["changed"]


def test_the_read_sees_exactly_what_the_module_wrote(tmp_path, capsys):
    # Role getty skips the module when guest_console_info's device_timeout_s is the wanted value: the read and the
    # module must agree, or a second run calls it again (or never repairs a hand-edited file).
    from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _guest_console as guest

    run(capsys, tmp_path, tty="ttyS1", device_timeout_s=450)
    getty = guest.read_guest(str(tmp_path), "ttyS1")["getty"]
    assert getty["device_timeout_s"] == 450 and "JobRunningTimeoutSec=450" in getty["device_dropin_text"]
    assert (tmp_path / "etc/systemd/system/dev-ttyS1.device.d/ttyfleet.conf").exists()
    path = tmp_path / "etc/systemd/system/dev-ttyS1.device.d/ttyfleet.conf"
    path.write_text(path.read_text() + "JobTimeoutSec=5\n")
    assert guest.read_guest(str(tmp_path), "ttyS1")["getty"]["device_timeout_s"] is None
    assert run(capsys, tmp_path, tty="ttyS1", device_timeout_s=450)["device_dropin_changed"]
    assert guest.read_guest(str(tmp_path), "ttyS1")["getty"]["device_timeout_s"] == 450
    path.unlink()
    getty = guest.read_guest(str(tmp_path), "ttyS1")["getty"]
    assert getty["device_timeout_s"] is None and getty["device_dropin_text"] is None


@pytest.mark.parametrize("seconds", [0, -90, 1, 89, 3601])
def test_device_timeout_must_be_the_roles_range(tmp_path, capsys, seconds):
    res = run(capsys, tmp_path, device_timeout_s=seconds)
    assert res["failed"] and "device_timeout_s must be 90-3600 seconds" in res["msg"], res
    assert tree(tmp_path) == []


@pytest.mark.parametrize("seconds", [90, 3600])
def test_device_timeout_range_ends_are_accepted(tmp_path, capsys, seconds):
    res = run(capsys, tmp_path, device_timeout_s=seconds)
    assert not res.get("failed") and res["device_dropin_changed"], res


def test_device_dropin_path_follows_the_tty_grammar(tmp_path, capsys):
    # The tty names the device unit (dev-<tty>.device): a name outside the grammar writes nothing anywhere.
    res = run(capsys, tmp_path, tty="../ttyS0", device_timeout_s=300)
    assert res["failed"] and "not a serial device name" in res["msg"], res
    assert tree(tmp_path) == []
    run(capsys, tmp_path, tty="hvc0", device_timeout_s=300)
    assert (tmp_path / "etc/systemd/system/dev-hvc0.device.d/ttyfleet.conf").exists()
