# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inside the systemd-boot guest after converge: it really booted through systemd-boot (the Boot Loader Interface
variable the loader sets), it has no GRUB, and the GRUB part's refusal left the boot loader's settings as the image
had them (no console= in /etc/kernel/cmdline or any entry). The getty checks are shared/tests/test_guest.py's."""


EFIVARS = "/sys/firmware/efi/efivars"
# LoaderInfo, vendor GUID of the Boot Loader Interface (systemd's docs/BOOT_LOADER_INTERFACE.md)
LOADER_INFO = EFIVARS + "/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"


def test_booted_by_systemd_boot(host):
    f = host.file(LOADER_INFO)
    assert f.exists, f"{LOADER_INFO} is missing: this boot did not come through systemd-boot"
    # 4 bytes of attributes, then UTF-16LE text such as "systemd-boot 252.39"
    text = f.content[4:].decode("utf-16-le", "replace").rstrip("\x00")
    assert text.startswith("systemd-boot "), f"LoaderInfo says {text!r}"


def test_no_grub(host):
    found = [p for p in ("/usr/sbin/update-grub", "/usr/sbin/grub-mkconfig", "/boot/grub/grub.cfg")
             if host.file(p).exists]
    assert not found, f"GRUB is on the systemd-boot guest: {found}"


def test_boot_loader_settings_untouched(host):
    cmdline = host.file("/etc/kernel/cmdline").content_string
    assert "console=" not in cmdline, f"/etc/kernel/cmdline was given a console: {cmdline.strip()}"
    entries = host.run("sh -c 'cat /boot/efi/loader/entries/*.conf'")
    assert entries.rc == 0 and "options" in entries.stdout, f"no loader entry on the ESP: {entries.stderr}"
    assert "console=" not in entries.stdout, f"a loader entry was given a console:\n{entries.stdout}"
    assert "console=" not in host.file("/proc/cmdline").content_string, "the running kernel has a console="
