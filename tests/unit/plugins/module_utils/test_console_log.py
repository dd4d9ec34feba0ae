# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The console log stream over virtlogd's rotation (F.1, F.0, F): offsets, cursors across a rotation, tails.

The rotation is done here the way virtlogd does it (rename F.0 -> F.1, F -> F.0, a new F), so a cursor taken
before it must find its file again under the new name.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_log as cl


def write(path, data):
    with open(path, "ab") as f:
        f.write(data)


def rotate(path, max_backups):
    last = "%s.%d" % (path, max_backups - 1)
    if os.path.exists(last):
        os.unlink(last)
    for i in range(max_backups - 2, -1, -1):
        if os.path.exists("%s.%d" % (path, i)):
            os.rename("%s.%d" % (path, i), "%s.%d" % (path, i + 1))
    os.rename(path, path + ".0")
    open(path, "wb").close()


@pytest.fixture
def log(tmp_path):
    path = str(tmp_path / "vm-serial0.log")
    write(path, b"aaaa\n")
    rotate(path, 2)
    write(path, b"bbbb\n")
    rotate(path, 2)
    write(path, b"cccc\n")
    # kept: .1 = aaaa, .0 = bbbb, F = cccc; a stray file with a similar name is not a backup
    write(path + ".old", b"zzzz\n")
    return path


def test_kept_files_oldest_first(log):
    files = cl.kept_files(log)
    assert [os.path.basename(p) for p, _i, _s in files] == ["vm-serial0.log.1", "vm-serial0.log.0", "vm-serial0.log"]


def test_offset_reads_across_files(log):
    got = cl.read(log, offset=3, max_bytes=100)
    assert got["data"] == b"a\nbbbb\ncccc\n" and got["start_offset"] == 3 and got["next_offset"] == 15
    assert got["size"] == 15 and not got["more"] and not got["missed"]


def test_max_bytes_pages_and_negative_offset(log):
    first = cl.read(log, offset=0, max_bytes=7)
    assert first["data"] == b"aaaa\nbb" and first["more"]
    second = cl.read(log, offset=first["next_offset"], max_bytes=100)
    assert first["data"] + second["data"] == b"aaaa\nbbbb\ncccc\n"
    assert cl.read(log, offset=-5)["data"] == b"cccc\n"
    beyond = cl.read(log, offset=99)
    assert beyond["data"] == b"" and beyond["missed"] and beyond["next_offset"] == 15


def test_cursor_survives_a_rotation(log):
    got = cl.read(log, offset=0, max_bytes=12)  # ends inside the live file, at b"cc|cc\n"
    assert got["data"].endswith(b"cc")
    write(log, b"dddd\n")
    rotate(log, 2)  # the live file becomes .0: an offset now points elsewhere, the cursor still finds it
    write(log, b"eeee\n")
    after = cl.read(log, cursor=got["next_cursor"])
    assert after["data"] == b"cc\ndddd\neeee\n" and not after["missed"]
    assert cl.read(log, offset=got["next_offset"])["data"] != after["data"]


def test_cursor_rotated_out_is_missed(log):
    got = cl.read(log, offset=0, max_bytes=2)  # in .1, which the next rotation deletes
    rotate(log, 2)
    after = cl.read(log, cursor=got["next_cursor"])
    assert after["missed"] and after["start_offset"] == 0 and after["data"].startswith(b"bbbb")


def test_reused_inode_is_not_the_cursor_file(log):
    got = cl.read(log, offset=0, max_bytes=12)
    ino, byte, _crc = cl.parse_cursor(got["next_cursor"])
    forged = "%d:%d:%s" % (ino, byte, "0badc0de")
    assert cl.read(log, cursor=forged)["missed"]


def test_bad_cursor():
    with pytest.raises(cl.LogError, match="cursor must be"):
        cl.parse_cursor("12;rm -rf /")


def test_tail(log):
    assert cl.tail(log, 2)["data"] == b"bbbb\ncccc\n"
    assert cl.tail(log, 0)["data"] == b""
    got = cl.tail(log, 100)
    assert got["data"] == b"aaaa\nbbbb\ncccc\n" and got["start_offset"] == 0


def test_no_log_yet(tmp_path):
    got = cl.read(str(tmp_path / "none.log"))
    assert got["files"] == [] and got["data"] == b""


def test_logging_config():
    stock = cl.logging_config("#max_size = 2097152\n#max_backups = 3\n", '#stdio_handler = "logd"\n')
    assert stock == {"stdio_handler": "logd", "max_size": 2097152, "max_backups": 3, "bounded": True,
                     "kept_bytes_per_log": 4 * 2097152}
    set_ = cl.logging_config("max_size = 8192\nmax_backups = 2  # two\n", 'stdio_handler = "file"\n')
    assert (set_["max_size"], set_["max_backups"], set_["bounded"]) == (8192, 2, False)
    assert cl.logging_config(None, None)["bounded"] is None
