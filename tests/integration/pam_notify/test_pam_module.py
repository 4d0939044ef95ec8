"""pam_gatehouse.so loaded by a real Linux-PAM: sessions, new hosts, failed
bursts, stack semantics, and what the module leaves in its host.

pamdrv (tests/integration/pam_notify/pamdrv.c) is a PAM application reading
service files from a test directory with pam_start_confdir, so nothing under
/etc/pam.d is touched; pam_matrix (from libpam-wrapper) plays the password
module.
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from gh_pam_support import PAM_AUTH_ERR, PAM_SESSION_ERR, PAM_SUCCESS, rcs

MODES = ["child", "inline"]


@pytest.mark.parametrize("mode", MODES)
def test_baseline_known_and_new_host(pam, mode):
    pam.init_store()
    svc = pam.session_service(args=f"mode={mode}")
    for rhost in ("192.0.2.10", "192.0.2.200", "198.51.100.4",
                  "198.51.100.5", "2001:db8:5:6::1"):
        out = pam.drv(svc, "alice", rhost=rhost, tty="ssh")
        assert rcs(out) == [[PAM_SUCCESS, PAM_SUCCESS]]
    kh = pam.known_hosts()
    assert set(kh) == {("alice", "192.0.2.0/24"), ("alice", "198.51.100.0/24"),
                       ("alice", "2001:db8:5:6::/64")}
    assert kh[("alice", "192.0.2.0/24")]["count"] == 2
    assert kh[("alice", "192.0.2.0/24")]["addr"] == "192.0.2.200"
    assert kh[("alice", "192.0.2.0/24")]["v"] == 1
    evs = pam.events()
    # the first network is the silent baseline; two new ones alert
    assert [e["type"] for e in evs] == ["login.new_host", "login.new_host"]
    e = evs[0]
    assert e["user"] == "alice"
    assert e["source"] == "pam"
    assert e["category"] == "security"
    assert e["priority"] == 3
    assert e["title"].startswith("New sign-in to ")
    assert e["title"].endswith(" from 198.51.100.4")
    assert e["metadata"]["network"] == "198.51.100.0/24"
    assert e["metadata"]["service"] == svc
    assert e["metadata"]["tty"] == "ssh"
    assert e["dedup_key"] == "login.new_host:alice:198.51.100.0/24"
    assert e["q"]["state"] == "ready"


def test_notify_always_and_local_logins(pam):
    pam.init_store()
    svc = pam.session_service(args="notify=always type=login.ssh")
    pam.drv(svc, "bob", rhost="203.0.113.7")
    pam.drv(svc, "bob", tty="tty1")                 # console: no rhost
    pam.drv(svc, "bob", rhost="UNKNOWN", tty="tty2")
    evs = pam.events()
    assert [e["type"] for e in evs] == ["login.ssh"] * 3
    assert evs[1]["metadata"]["local"] is True
    assert "the console (tty1)" in evs[1]["title"]
    assert evs[0]["metadata"]["new_host"] is False
    # local logins never create known_hosts records
    assert list(pam.known_hosts()) == [("bob", "203.0.113.0/24")]


def test_alert_first_and_prefix_options(pam):
    pam.init_store()
    svc = pam.session_service(args="alert_first=yes v4_prefix=16")
    pam.drv(svc, "carol", rhost="10.20.30.40")
    pam.drv(svc, "carol", rhost="10.20.99.1")       # same /16
    evs = pam.events()
    assert len(evs) == 1 and evs[0]["metadata"]["first_login"] is True
    assert list(pam.known_hosts()) == [("carol", "10.20.0.0/16")]


def test_hostname_rhost_is_not_resolved(pam):
    pam.init_store()
    svc = pam.session_service()
    # .invalid never resolves; a lookup would also show up as a delay
    pam.drv(svc, "dan", rhost="Workstation.Example.INVALID.")
    pam.drv(svc, "dan", rhost="other.example.invalid")
    assert set(pam.known_hosts()) == {("dan", "workstation.example.invalid"),
                                      ("dan", "other.example.invalid")}
    assert [e["metadata"]["addr"] for e in pam.events()] == \
        ["other.example.invalid"]


def test_config_file_gives_the_store(pam):
    pam.init_store()
    pam.write_conf()
    svc = pam.service("viaconf", [
        "session required pam_permit.so",
        "session optional @MODULE@ config=@CONF@ notify=always"])
    assert rcs(pam.drv(svc, "erin", rhost="192.0.2.1")) == [[0, 0]]
    assert len(pam.events()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_failed_burst_one_event(pam, mode):
    pam.init_store()
    svc = pam.auth_service(args=f"fail_burst=3/60 mode={mode}")
    pam.add_user("frank", "right", svc)
    assert rcs(pam.drv(svc, "frank", rhost="192.0.2.9", ops="auth",
                       password="right")) == [[PAM_SUCCESS]]
    out = pam.drv(svc, "frank", rhost="192.0.2.9", ops="auth",
                  password="wrong", repeat=8)
    assert rcs(out) == [[PAM_AUTH_ERR]] * 8
    evs = pam.events()
    assert [e["type"] for e in evs] == ["login.failed_burst"]
    e = evs[0]
    assert e["user"] == "frank"
    assert e["metadata"]["scope"] == "user+address"
    assert e["metadata"]["count"] == 3
    assert e["metadata"]["window_s"] == 60
    assert e["metadata"]["user_failures"] == 3
    assert e["dedup_key"] == "login.failed_burst:user:frank"
    rate = {r["key"]: r["value"] for r in pam.dump("rate")}
    assert set(rate) == {"pam:fail-user:frank", "pam:fail-addr:192.0.2.9"}
    # a success afterwards counts nothing and raises nothing
    assert rcs(pam.drv(svc, "frank", rhost="192.0.2.9", ops="auth",
                       password="right")) == [[PAM_SUCCESS]]
    assert {r["key"]: r["value"] for r in pam.dump("rate")} == rate
    assert len(pam.events()) == 1


def test_failed_burst_spraying_from_one_address(pam):
    pam.init_store()
    svc = pam.auth_service(args="fail_burst=4/60 admin=secops")
    for i in range(10):
        out = pam.drv(svc, f"user{i}", rhost="203.0.113.66", ops="auth",
                      password="x")
        assert rcs(out) == [[PAM_AUTH_ERR]]
    evs = pam.events()
    assert len(evs) == 1
    assert evs[0]["user"] == "secops"
    assert evs[0]["metadata"]["scope"] == "address"
    assert evs[0]["metadata"]["last_user"] == "user3"
    assert evs[0]["metadata"]["addr_failures"] == 4
    assert evs[0]["dedup_key"] == "login.failed_burst:addr:203.0.113.66"
    assert len([r for r in pam.dump("rate")
                if r["key"].startswith("pam:fail-user:")]) == 10


def test_auth_never_grants(pam):
    """Even a wrong 'sufficient' on our line cannot authenticate anyone."""
    pam.init_store()
    svc = pam.service("suff", [
        "auth sufficient @MODULE@ fail store=@STORE@",
        "auth sufficient @MODULE@ store=@STORE@",
        "auth required pam_deny.so"])
    assert rcs(pam.drv(svc, "gail", rhost="192.0.2.1", ops="auth,setcred,acct",
                       password="x"))[0][0] != PAM_SUCCESS


@pytest.mark.parametrize("lines", [
    ["session optional @MODULE@ store=@STORE@"],
    ["session required @MODULE@ store=@STORE@"],
    ["session [success=ok default=bad] @MODULE@ store=@STORE@"],
    ["session optional @MODULE@ store=/nonexistent/store"],
    ["session required @MODULE@ store=/nonexistent/store timeout_ms=5"],
    ["session [success=ok default=bad] @MODULE@ store=/nonexistent/store"],
    ["session required @MODULE@ store=@STORE@ bogus_option timeout_ms=x"],
], ids=["optional", "required", "bracket", "optional-missing",
        "required-missing", "bracket-missing", "bad-options"])
def test_session_stack_never_fails(pam, lines):
    """Our module alone in the session stack: the outcome must not depend
    on the store (a stack of PAM_IGNOREs would fail)."""
    pam.init_store()
    svc = pam.service("alone", lines)
    assert rcs(pam.drv(svc, "hal", rhost="192.0.2.1")) == [[0, 0]]


def test_fail_closed(pam):
    pam.init_store()
    ok = pam.service("fc_ok", [
        "session required @MODULE@ store=@STORE@ fail_closed"])
    bad = pam.service("fc_bad", [
        "session required @MODULE@ store=/nonexistent fail_closed"])
    assert rcs(pam.drv(ok, "ivy", rhost="192.0.2.1")) == [[0, 0]]
    assert rcs(pam.drv(bad, "ivy", rhost="192.0.2.1"))[0][0] == PAM_SESSION_ERR


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", ["ok", "missing", "bad-config",
                                      "auth-fail"])
def test_host_untouched(pam, mode, scenario):
    """No descriptor, umask, signal or output left behind in the host."""
    pam.init_store()
    if scenario == "missing":
        svc = pam.service("h", ["session required pam_permit.so",
                                f"session optional @MODULE@ mode={mode} "
                                "store=/nonexistent/x debug"])
        ops = "open,close"
    elif scenario == "bad-config":
        pam.conf.write_text("[store\n")
        svc = pam.service("h", ["session required pam_permit.so",
                                f"session optional @MODULE@ mode={mode} "
                                "config=@CONF@ debug"])
        ops = "open,close"
    elif scenario == "auth-fail":
        svc = pam.auth_service(args=f"mode={mode} fail_burst=1/60 debug")
        ops = "auth"
    else:
        svc = pam.session_service(args=f"mode={mode} notify=always debug")
        ops = "open,close"
    out = pam.drv(svc, "jack", rhost="192.0.2.50", ops=ops, password="no",
                  repeat=5, check=True)
    assert out["threads"][0]["start_rc"] == 0
    assert out["fds_before"] == out["fds_after"]
    assert out["children_before"] == out["children_after"] == 0
    assert out["umask_before"] == out["umask_after"]
    assert out["signals_changed"] == 0
    assert out["sigmask_changed"] == 0
    assert out["captured"] == ""
    assert out["conv_text"] == ""
    if scenario == "ok":
        assert len(pam.events()) == 5
    if scenario == "auth-fail":
        assert out["prompts"] == 5        # pam_matrix asked, we did not
        assert len(pam.events()) == 1


def test_threads(pam):
    """Concurrent PAM transactions in one process (a threaded host): each
    gets its own writer process for LMDB, and 40 writers queueing on the
    write lock lose nothing."""
    pam.init_store()
    svc = pam.session_service(args="notify=always timeout_ms=2000")
    out = pam.drv(svc, "kate", rhost="10.%t.%i.1", repeat=10, threads=4)
    for t in range(4):
        assert out["threads"][t]["rc"] == [[0, 0]] * 10
    kh = pam.known_hosts()
    assert len(kh) == 40
    evs = pam.events()
    assert sum(e["type"] == "login.success" for e in evs) == 40
    # 40 networks, one baseline: 39 new-host alerts, whatever the order
    assert sum(e["type"] == "login.new_host" for e in evs) == 39


def test_pamtester_with_pam_wrapper_logs(pam):
    """pamtester through pam_wrapper; pam_wrapper also shows what the
    module logs with pam_syslog (one line per call at most)."""
    pam.init_store()
    # mode=child: a detached writer logs from a process of its own, whose
    # stderr (where pam_wrapper prints) is /dev/null
    svc = pam.session_service(args="mode=child debug")
    p = pam.pamtester(svc, "liam", "open_session", "close_session",
                      items=["rhost=192.0.2.77", "tty=pts/9"], debuglevel=2)
    assert p.returncode == 0, p.stderr
    assert "successfully opened a session" in p.stdout
    logs = [line for line in p.stderr.splitlines() if "SYSLOG(" in line]
    assert len(logs) == 1
    assert "SYSLOG(7)" in logs[0]                     # LOG_DEBUG
    assert "user liam from 192.0.2.77" in logs[0]
    assert ("liam", "192.0.2.0/24") in pam.known_hosts()

    # an unknown option is logged at LOG_ERR, the login goes on
    svc2 = pam.session_service("s2", args="notify=loud")
    p = pam.pamtester(svc2, "liam", "open_session",
                      items=["rhost=192.0.2.77"], debuglevel=2)
    assert p.returncode == 0
    assert any("SYSLOG(3)" in line and "notify=loud" in line
               for line in p.stderr.splitlines())

    # without debug, a missing store is silent
    svc3 = pam.service("s3", ["session required pam_permit.so",
                              "session optional @MODULE@ store=/nope"])
    p = pam.pamtester(svc3, "liam", "open_session",
                      items=["rhost=192.0.2.77"], debuglevel=2)
    assert p.returncode == 0
    assert not [line for line in p.stderr.splitlines() if "SYSLOG(" in line]

    # a real problem is one LOG_WARNING line naming it
    (pam.store / "data.mdb").write_bytes(b"\0garbage" * 1000)
    p = pam.pamtester(svc, "liam", "open_session",
                      items=["rhost=192.0.2.77"], debuglevel=2)
    assert p.returncode == 0
    logs = [line for line in p.stderr.splitlines() if "SYSLOG(" in line]
    assert len(logs) == 1
    assert "SYSLOG(4)" in logs[0]                     # LOG_WARNING
    assert "login of liam not recorded (open, ECORRUPT)" in logs[0]


@pytest.mark.parametrize("sigchld", ["ignore", "reap-all"])
def test_host_sigchld_handling(pam, sigchld):
    """Hosts that ignore SIGCHLD or reap every child themselves (sshd's
    main loop does) must not confuse the child mode: the outcome comes
    through the pipe, the reaping is whoever's."""
    pam.init_store()
    svc = pam.session_service(args="notify=always debug")
    out = pam.drv(svc, "nora", rhost="10.9.%i.1", repeat=20, check=True,
                  sigchld=sigchld)
    assert rcs(out) == [[0, 0]] * 20
    assert out["children_after"] == 0
    assert out["fds_before"] == out["fds_after"]
    assert [e["type"] for e in pam.events()].count("login.success") == 20


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_child_drops_root_for_the_store_owner(pam):
    """A root host's child becomes the store directory's owner before it
    opens the store: files it creates belong to that user, and a store the
    owner cannot write is not written."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    base = pathlib.Path(tempfile.mkdtemp(prefix="ghpam-owner-"))
    try:
        os.chmod(base, 0o755)        # nobody must reach the store
        store = base / "store"
        pam.init_store(path=store)
        (store / "wlock").unlink()
        for p in [store] + list(store.iterdir()):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        pam.write_conf(path=store)
        os.chmod(pam.conf, 0o600)    # read as root, before the drop
        svc = pam.service("own", [
            "session required pam_permit.so",
            "session optional @MODULE@ config=@CONF@ notify=always"])
        assert rcs(pam.drv(svc, "olga", rhost="192.0.2.1")) == [[0, 0]]
        assert (store / "wlock").stat().st_uid == nobody.pw_uid
        assert len(pam.events(store=store)) == 1
        # inline mode cannot drop (it is the host), and root never opens
        # a store of another uid's: nothing is recorded, nothing created,
        # and the login goes on
        before = len(pam.events(store=store))
        (store / "wlock").unlink()
        svc2 = pam.service("own2", [
            "session required pam_permit.so",
            "session optional @MODULE@ config=@CONF@ notify=always "
            "mode=inline"])
        assert rcs(pam.drv(svc2, "olga", rhost="192.0.2.1")) == [[0, 0]]
        assert not (store / "wlock").exists()
        assert len(pam.events(store=store)) == before
        # a store its owner may not write: nothing recorded, login fine
        before = len(pam.events(store=store))
        os.chmod(store / "data.mdb", 0o400)
        assert rcs(pam.drv(svc, "olga", rhost="192.0.2.1")) == [[0, 0]]
        os.chmod(store / "data.mdb", 0o600)
        assert len(pam.events(store=store)) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_logins_cli_list_forget_purge(pam):
    """gatehouse logins: what the module learnt, forgetting a network (it
    alerts again) and purging networks not seen for a while."""
    gh = [str(pathlib.Path(__file__).resolve().parents[3] / "build" /
              "gatehouse"), "-c", str(pam.write_conf())]

    def run(*args, rc=0):
        p = subprocess.run(gh + list(args), capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == rc, p.stderr
        return p.stdout

    pam.init_store()
    svc = pam.session_service(args="notify=never")
    for rhost in ("192.0.2.1", "198.51.100.1"):
        pam.drv(svc, "olga", rhost=rhost)
    time.sleep(1.2)
    pam.drv(svc, "olga", rhost="203.0.113.1")
    pam.drv(svc, "pete", rhost="192.0.2.9")
    rows = json.loads(run("logins", "list", "--json"))
    assert {(r["user"], r["network"]) for r in rows} == {
        ("olga", "192.0.2.0/24"), ("olga", "198.51.100.0/24"),
        ("olga", "203.0.113.0/24"), ("pete", "192.0.2.0/24")}
    assert {r["addr"] for r in rows if r["user"] == "pete"} == {"192.0.2.9"}
    text = run("logins", "list", "--user", "pete")
    assert "pete" in text and "olga" not in text

    # the two networks last seen over a second ago; --dry-run only shows
    assert "198.51.100.0/24" in run("logins", "purge", "--older-than", "1s",
                                    "--dry-run")
    assert len(pam.known_hosts()) == 4
    assert json.loads(run("logins", "purge", "--older-than", "1s",
                          "--json")) == {"removed": 2}
    assert set(pam.known_hosts()) == {("olga", "203.0.113.0/24"),
                                      ("pete", "192.0.2.0/24")}

    # a forgotten network alerts again on its next login
    assert "removed 1" in run("logins", "forget", "olga", "203.0.113.0/24")
    run("logins", "forget", "olga", "203.0.113.0/24", rc=1)
    svc2 = pam.session_service("s2")
    pam.drv(svc2, "olga", rhost="203.0.113.1")
    pam.drv(svc2, "pete", rhost="203.0.113.1")
    assert [(e["type"], e["user"]) for e in pam.events()] == [
        ("login.new_host", "pete")]      # olga has no pair: baseline again
    run("logins", "forget", "pete")
    assert set(pam.known_hosts()) == {("olga", "203.0.113.0/24")}
    run("logins", "purge", rc=64)


def test_hostile_names_escaped_by_the_shared_rule(pam):
    """User, tty and host names are escaped by libgatehouse's one rule
    (docs/events.md, "Untrusted text"): control and invalid bytes become
    \\xhh, never '?', so the same odd name reads the same in every part;
    a '\\' in a user name (DOMAIN\\user) stays one."""
    pam.init_store()
    svc = pam.session_service(args="notify=always type=login.ssh")
    # "\udcff" is the byte 0xff on the command line (surrogateescape)
    pam.drv(svc, "eve\x1b[31m\udcff", rhost="203.0.113.7",
            tty="pts/\u202e1")
    pam.drv(svc, "DOM\\bob", rhost="203.0.113.8")
    evs = pam.events()
    assert [e["user"] for e in evs] == ["eve\\x1b[31m\\xff", "DOM\\bob"]
    assert evs[0]["metadata"]["tty"] == "pts/\\u{202e}1"
    assert ("DOM\\bob", "203.0.113.0/24") in pam.known_hosts()
