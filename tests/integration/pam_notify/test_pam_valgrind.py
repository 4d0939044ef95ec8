"""valgrind on pamtester (through pam_wrapper) with pam_gatehouse in the auth
and session stacks: no leak, no invalid access, in either mode.

mode=inline runs LMDB, jansson and the config parser in pamtester itself,
so this is where a leak in the store path would show; mode=child checks the
parent's side of the fork (the child is a copy that leaves with _exit; its
report is silenced).  --errors-for-leak-kinds=definite with
--error-exitcode makes "definitely lost" fail the run.
"""
import shutil

import pytest


pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None or
                                shutil.which("pamtester") is None,
                                reason="valgrind and pamtester are needed")

VALGRIND = ["valgrind", "--quiet", "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99", "--child-silent-after-fork=yes"]


@pytest.mark.parametrize("mode", ["inline", "child"])
@pytest.mark.parametrize("store_state", ["ok", "missing"])
def test_valgrind_pamtester(pam, mode, store_state):
    if store_state == "ok":
        pam.init_store()
    svc = pam.auth_service(
        args=f"mode={mode} fail_burst=1/60 timeout_ms=5000",
        extra_session=[
            "session required pam_permit.so",
            f"session optional @MODULE@ store=@STORE@ mode={mode} "
            "notify=always timeout_ms=5000"])
    pam.add_user("vera", "pw", svc)
    # a wrong password (auth fails: counted), then a session
    p = pam.pamtester(svc, "vera", "authenticate", items=["rhost=192.0.2.3"],
                      prefix=VALGRIND, timeout=300, password="wrong")
    assert p.returncode != 99, p.stderr
    assert "Authentication failure" in p.stderr + p.stdout, p.stderr
    p = pam.pamtester(svc, "vera", "open_session", "close_session",
                      items=["rhost=192.0.2.3", "tty=pts/1"],
                      prefix=VALGRIND, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "definitely lost" not in p.stderr
    assert "Invalid read" not in p.stderr and "Invalid write" not in p.stderr
    if store_state == "ok" and mode == "inline":
        types = sorted(e["type"] for e in pam.events())
        assert types == ["login.failed_burst", "login.success"]
