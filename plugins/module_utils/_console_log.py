# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A console log file and the backups virtlogd rotated it into, read as one stream (stdlib only, read only).

virtlogd rotates ``F`` when it reaches ``max_size``: ``F.<max_backups-1>`` is deleted, ``F.<i>`` becomes
``F.<i+1>``, ``F`` becomes ``F.0`` and a new ``F`` is started. The kept files, oldest first, are one stream: an
``offset`` counts bytes into that stream as it is now, and a ``cursor`` (``"<inode>:<byte>"``, what ``read``
returns as ``next_cursor``) names a position in one file by its inode, so it survives a rotation: the file is
found again under its new name and reading goes on from the same byte, then through every newer file. A cursor is
``"<inode>:<byte>:<crc32 of the file's first bytes, up to 64>"``: a file system reuses the inode of a deleted backup,
and the checksum (and a file shorter than the byte) tells such a new file from the one the cursor was taken in.
"""

from __future__ import annotations

import os
import re
import zlib

_BACKUP_RE = re.compile(r"^\.(\d{1,4})$")
_CURSOR_RE = re.compile(r"^([0-9]{1,20}):([0-9]{1,20}):([0-9a-f]{8})$")
_HEAD = 64


class LogError(ValueError):
    """A cursor that is not one, or a log that cannot be read; the message says which."""


def kept_files(path):
    """[(path, inode, size)] of the log and its rotated backups, oldest first; files that vanish are skipped."""
    directory, base = os.path.split(path)
    backups = []
    try:
        names = os.listdir(directory or ".")
    except OSError as e:
        raise LogError("cannot list %s: %s" % (directory, e.strerror)) from e
    for entry in names:
        if entry.startswith(base):
            m = _BACKUP_RE.match(entry[len(base):])
            if m:
                backups.append((int(m.group(1)), os.path.join(directory, entry)))
    ordered = [p for _n, p in sorted(backups, reverse=True)] + [path]
    files = []
    for p in ordered:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            continue
        files.append((p, st.st_ino, st.st_size))
    return files


def parse_cursor(cursor):
    m = _CURSOR_RE.match(cursor or "")
    if not m:
        raise LogError("cursor must be '<inode>:<byte>:<crc>' as returned in next_cursor, got %r"
                       % (cursor or "")[:40])
    return int(m.group(1)), int(m.group(2)), m.group(3)


def _head_crc(path, byte):
    try:
        with open(path, "rb") as f:
            head = f.read(min(_HEAD, byte))
    except FileNotFoundError:
        return None
    return "%08x" % (zlib.crc32(head) & 0xFFFFFFFF) if len(head) == min(_HEAD, byte) else None


def _cursor(path, inode, byte):
    return "%d:%d:%s" % (inode, byte, _head_crc(path, byte) or "00000000")


def _chunks(files, index, skip, max_bytes):
    """Read up to max_bytes from files[index] at byte skip onwards, then the newer files: (bytes, end position)."""
    data = bytearray()
    pos = (index, skip)
    for i in range(index, len(files)):
        p, _ino, _size = files[i]
        start = skip if i == index else 0
        try:
            with open(p, "rb") as f:
                f.seek(start)
                chunk = f.read(max_bytes - len(data))
        except FileNotFoundError:
            continue  # rotated away between the listing and the read
        data += chunk
        pos = (i, start + len(chunk))
        if len(data) >= max_bytes:
            break
    return bytes(data), pos


def read(path, offset=None, cursor=None, max_bytes=1048576):
    """Bytes of the log stream from ``offset`` (into the kept files as they are now) or ``cursor``.

    Returns a dict: ``data``, ``start_offset`` (where ``data`` begins in today's stream), ``next_offset``,
    ``next_cursor``, ``size`` (of the whole kept stream), ``files``, ``more`` (bytes remain after ``data``) and
    ``missed`` (the cursor's file was rotated out of the kept backups, or the offset lies beyond the end: reading
    starts at the oldest byte kept, or at the end).
    """
    files = kept_files(path)
    sizes = [s for _p, _i, s in files]
    total = sum(sizes)
    missed = False
    if cursor is not None:
        inode, byte, crc = parse_cursor(cursor)
        index = next((i for i, f in enumerate(files) if f[1] == inode and f[2] >= byte
                      and _head_crc(f[0], byte) == crc), None)
        if index is None:
            index, skip, missed = 0, 0, True
        else:
            skip = min(byte, sizes[index])
    else:
        offset = int(offset or 0)
        if offset < 0:
            offset = max(0, total + offset)  # from the end, like `tail -c`
        if offset > total:
            offset, missed = total, True
        index, skip, acc = len(files) - 1, 0, 0
        for i, s in enumerate(sizes):
            if offset < acc + s or i == len(files) - 1:
                index, skip = i, offset - acc
                break
            acc += s
    if not files:
        return {"data": b"", "start_offset": 0, "next_offset": 0, "next_cursor": None, "size": 0, "files": [],
                "more": False, "missed": missed}
    start = sum(sizes[:index]) + skip
    data, (end_index, end_skip) = _chunks(files, index, skip, max_bytes)
    next_offset = start + len(data)
    return {
        "data": data,
        "start_offset": start,
        "next_offset": next_offset,
        "next_cursor": _cursor(files[end_index][0], files[end_index][1], end_skip),
        "size": total,
        "files": [{"path": p, "inode": i, "size": s} for p, i, s in files],
        "more": next_offset < total,
        "missed": missed,
    }


def tail(path, lines, max_bytes=1048576):
    """The last ``lines`` lines of the stream (at most max_bytes), with the same keys as ``read``."""
    files = kept_files(path)
    total = sum(s for _p, _i, s in files)
    start = max(0, total - max_bytes)
    got = read(path, offset=start, max_bytes=max_bytes)
    data = got["data"]
    ends_with_newline = data.endswith(b"\n")
    parts = data.split(b"\n")
    if ends_with_newline:
        parts = parts[:-1]
    keep = parts[-lines:] if lines > 0 else []
    text = b"\n".join(keep) + (b"\n" if ends_with_newline and keep else b"")
    got["start_offset"] = got["next_offset"] - len(text)
    got["data"] = text
    return got


# --- Which file logs a console (console_log reads it; the audit's console_not_logged finds none) -------------------


def log_path(devices, port=None):
    """(path, None) of the file that logs a console, or (None, why not).

    ``devices``: one copy of a domain as domain_console_info describes it (``serials``, ``consoles``). ``port``: the
    serial target port whose log is meant; None, the console ``virsh console`` opens (the first console, else the
    first serial). A console is logged by its ``<log file>``, or, for a ``file`` chardev, by its source file.
    """
    if port is None:
        devs = list(devices.get("consoles") or []) + list(devices.get("serials") or [])
    else:
        devs = [d for d in devices.get("serials") or [] if d.get("target_port") == port]
    if not devs:
        return None, ("the domain has no serial port %d" % port) if port is not None else "the domain has no console"
    dev = devs[0]
    if dev.get("log_file"):
        return dev["log_file"], None
    if dev.get("type") == "file" and dev.get("source_path"):
        return dev["source_path"], None
    return None, ("the console is not logged (no <log file> on its %s device): console_not_logged; "
                  "domain_serial log_file=... adds one" % dev.get("type"))


# --- How the hypervisor logs: the data behind the audit's console_log_unbounded ----------------------------------

VIRTLOGD_DEFAULTS = {"max_size": 2097152, "max_backups": 3}
_SETTING_RE = re.compile(r'^\s*([a-z_]+)\s*=\s*("([^"]*)"|[0-9]+)\s*(?:#.*)?$')


def _settings(text):
    found = {}
    for line in (text or "").splitlines():
        m = _SETTING_RE.match(line)
        if m:
            found[m.group(1)] = m.group(3) if m.group(3) is not None else int(m.group(2))
    return found


def logging_config(virtlogd_conf_text, qemu_conf_text):
    """What bounds the console logs of a hypervisor, from virtlogd.conf and qemu.conf (None: file unreadable).

    ``bounded`` is True when QEMU hands its output and chardev logs to virtlogd (``stdio_handler`` logd, libvirt's
    default), which rotates them at ``max_size`` keeping ``max_backups``; False with ``stdio_handler = "file"``
    (QEMU appends to the files itself, without limit); None when qemu.conf could not be read.
    """
    virtlogd = dict(VIRTLOGD_DEFAULTS)
    virtlogd.update({k: v for k, v in _settings(virtlogd_conf_text).items() if k in VIRTLOGD_DEFAULTS
                     and isinstance(v, int)})
    handler = None if qemu_conf_text is None else _settings(qemu_conf_text).get("stdio_handler", "logd")
    return {
        "stdio_handler": handler,
        "max_size": virtlogd["max_size"],
        "max_backups": virtlogd["max_backups"],
        "bounded": None if handler is None else handler == "logd",
        "kept_bytes_per_log": (virtlogd["max_backups"] + 1) * virtlogd["max_size"],
    }
