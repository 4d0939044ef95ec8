"""Logins under a compromised or stuck neighbour (docs/security.md, rules 5
and 6): pam_gatehouse writes the login domain's own store from a child
that became that store's owner, so a web uid holding its lock forever
changes nothing, and even the login store's own lock held costs a login no
wait: the detached writer records it once the lock is free."""
import pathlib
import time

import pytest

from gh_pam_support import PamEnv, rcs
from secenv import USERS, hold_wlock, wait_until


@pytest.fixture
def login(sec):
    sec.init()
    sec.start_notifyd()
    sec.start_bridge("login")
    pamdir = sec.base / "pam"
    pamdir.mkdir()
    pam = PamEnv(pamdir)
    svc = pam.service("sess", [
        "session required pam_permit.so",
        f"session optional @MODULE@ config={sec.conf} notify=always"])
    return sec, pam, svc


def test_login_recorded_while_web_holds_its_lock(login):
    """A login through pamtester (pam_wrapper: /etc/pam.d untouched)
    while the web uid holds its store's write lock for ever."""
    sec, pam, svc = login
    with hold_wlock(sec.stores["web"], USERS["web"]):
        p = pam.pamtester(svc, "olga", "open_session", "close_session",
                          items=("rhost=192.0.2.1",), timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        # written by the login uid into its own store, then carried over
        ev = wait_until(lambda: [e for e in sec.events()
                                 if e["type"] == "login.success"], 20,
                        "the login in the core")
        assert ev[0]["source"] == "pam" and ev[0]["user"] == "olga"
    assert all(e["type"] == "login.success" for e in sec.events("login"))


def test_login_with_its_own_store_locked_completes_then_is_recorded(login):
    sec, pam, svc = login
    import json
    import subprocess
    from gh_pam_support import PAMDRV
    with hold_wlock(sec.stores["login"], USERS["login"]):
        # pam.drv() would wait for the detached writer; a login does not
        t0 = time.monotonic()
        p = subprocess.run([str(PAMDRV), "--confdir", str(pam.confdir),
                            "--service", svc, "--user", "olga", "--rhost",
                            "192.0.2.7", "--ops", "open"],
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        assert rcs(json.loads(p.stdout.splitlines()[-1])) == [[0]]
        # the login did not wait for the lock (its budget, timeout_ms, is
        # 50 ms; the bound is loose for a loaded machine)
        assert took < 5, took
        time.sleep(0.5)
        assert not [e for e in sec.events("login")]
    # released: the detached writer (writer_timeout_ms, 5 s) records it
    ev = wait_until(lambda: [e for e in sec.events()
                             if e["type"] == "login.success"], 20,
                    "the login recorded after the lock was released")
    assert ev[0]["metadata"]["rhost"] == "192.0.2.7"
