"""The package's pam-auth-update profile (conf/pam-configs/gatehouse) as
Debian's own pam-auth-update applies it: in a scratch root (--root) holding
this host's profiles, common-* files and pam-auth-update state, with a
copy of debconf's database (DEBCONF_DB_REPLACE), so neither /etc/pam.d nor
the host's debconf answers are touched.

`--enable gatehouse` must put the auth line in common-auth and the session
line in common-session, and nothing in common-session-noninteractive
(cron, sudo, su -c: docs/pam.md), which the profile's
Session-Interactive-Only keeps it out of.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

TOP = pathlib.Path(__file__).resolve().parents[3]
PAM_AUTH_UPDATE = "/usr/sbin/pam-auth-update"
DEBCONF_DB = "/var/cache/debconf/config.dat"


def why_not():
    if not os.access(PAM_AUTH_UPDATE, os.X_OK):
        return "no pam-auth-update (libpam-runtime)"
    if not os.access(DEBCONF_DB, os.R_OK):
        return f"{DEBCONF_DB} not readable"
    if not os.path.exists("/etc/pam.d/common-session-noninteractive"):
        return "no Debian common-session-noninteractive here"
    return None


pytestmark = pytest.mark.skipif(why_not() is not None, reason=str(why_not()))


def test_enable_keeps_noninteractive_sessions_clean(tmp_path):
    root = tmp_path / "root"
    configs = root / "usr/share/pam-configs"
    configs.mkdir(parents=True)
    for p in pathlib.Path("/usr/share/pam-configs").iterdir():
        if p.name != "gatehouse" and p.is_file():
            shutil.copy(p, configs / p.name)
    shutil.copy(TOP / "conf/pam-configs/gatehouse", configs / "gatehouse")
    pamd = root / "etc/pam.d"
    pamd.mkdir(parents=True)
    for p in pathlib.Path("/etc/pam.d").glob("common-*"):
        shutil.copy(p, pamd / p.name)
    shutil.copytree("/var/lib/pam", root / "var/lib/pam")
    db = tmp_path / "config.dat"
    shutil.copy(DEBCONF_DB, db)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive",
               DEBCONF_DB_REPLACE=f"File{{{db}}}")
    r = subprocess.run([PAM_AUTH_UPDATE, "--root", str(root), "--enable",
                        "gatehouse"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr

    def has(name):
        return "pam_gatehouse.so" in (pamd / name).read_text()
    assert has("common-auth"), (pamd / "common-auth").read_text()
    assert has("common-session"), (pamd / "common-session").read_text()
    assert not has("common-session-noninteractive"), \
        (pamd / "common-session-noninteractive").read_text()
