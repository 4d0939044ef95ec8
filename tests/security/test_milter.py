"""The milter socket is the MTA's alone (docs/security.md, rule 7): who
can connect can have mail DKIM-signed, so a local user, the web uid
included, gets EACCES at connect while Postfix's user gets in."""
import grp
import os
import pwd
import socket
import stat
import subprocess

import pytest

from secenv import MILTER, USERS, EVIL, as_user, wait_until

CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(e.strerror)
"""


@pytest.fixture
def milter(sec):
    sec.init()
    keydir = sec.base / "dkim"
    keydir.mkdir()
    sock = sec.base / "milter-run" / "milter.sock"   # missing: it makes it
    sec.write_conf(
        f"\n[milter]\nsocket = unix:{sock}\nsocket_group = postfix\n"
        f"socket_mode = 0660\nuser = {USERS['mail']}\n"
        f"pid_file = {sock.parent / 'milter.pid'}\n"
        f"[dkim]\nkey_dir = {keydir}\n")
    p = sec.start("milter", [MILTER, "-f", "-c", sec.conf])
    wait_until(lambda: sock.exists() or p.poll() is not None, 20,
               "the milter socket")
    assert p.poll() is None, sec.log("milter")
    return sec, sock, p


def test_only_the_mta_connects(milter):
    sec, sock, p = milter
    d = os.stat(sock.parent)
    assert d.st_uid == pwd.getpwnam(USERS["mail"]).pw_uid
    assert d.st_gid == grp.getgrnam("postfix").gr_gid
    assert stat.S_IMODE(d.st_mode) == 0o2750
    s = os.stat(sock)
    assert s.st_gid == grp.getgrnam("postfix").gr_gid
    assert stat.S_IMODE(s.st_mode) == 0o660
    for user in (USERS["web"], EVIL, "nobody"):
        r = as_user(user, ["/usr/bin/python3", "-c", CONNECT, sock])
        assert r.stdout.strip() == "Permission denied", (user, r.stdout)
    pf = pwd.getpwnam("postfix")
    r = subprocess.run(["setpriv", f"--reuid={pf.pw_uid}",
                        f"--regid={pf.pw_gid}", "--init-groups", "--",
                        "/usr/bin/python3", "-c", CONNECT, str(sock)],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "connected", r.stdout + r.stderr
    # the milter runs as the mail domain's user
    status = open(f"/proc/{p.pid}/status").read()
    uid = [ln for ln in status.splitlines() if ln.startswith("Uid:")][0]
    assert uid.split()[1:] == [str(pwd.getpwnam(USERS["mail"]).pw_uid)] * 4


def test_a_socket_mode_for_everyone_is_refused(sec):
    sec.init()
    sock = sec.base / "m2" / "milter.sock"
    sec.write_conf(f"\n[milter]\nsocket = unix:{sock}\nsocket_mode = 0666\n"
                   f"user = {USERS['mail']}\n")
    r = subprocess.run([str(MILTER), "-f", "-c", str(sec.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78
    assert "lets every local user connect" in r.stderr
    assert not sock.exists()
