# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hold a domain's console like an operator's `virsh console` would, until libvirt takes it away.

Usage: hold_console.py URI NAME READY_FILE SECONDS. Writes READY_FILE once attached, then prints
"disconnected" and exits 0 when the stream ends (another client forced the console), or exits 3 after SECONDS.
"""

import sys
import threading

import libvirt

uri, name, ready, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
libvirt.virEventRegisterDefaultImpl()


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
dom.openConsole(None, stream, 0)
ended = threading.Event()


def on_event(st, events, _opaque):
    if events & libvirt.VIR_STREAM_EVENT_READABLE:
        try:
            while True:
                data = st.recv(4096)
                if data == -2:
                    return
                if not data:
                    break
        except libvirt.libvirtError:
            pass
    st.eventRemoveCallback()
    ended.set()


stream.eventAddCallback(
    libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP, on_event, None
)
with open(ready, "w") as f:
    f.write("attached\n")
if ended.wait(seconds):
    print("disconnected")
    sys.exit(0)
print("still attached after %s s" % seconds)
sys.exit(3)
