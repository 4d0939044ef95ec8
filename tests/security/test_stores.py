"""Attacks on the stores, run as the attacker's uid (docs/security.md,
rules 1-3): a compromised web server (ghsec-web) or a user of no domain
(ghsec-evil) against the other domains' stores, and root's tools against
what a group member could plant in a store of the old, group-writable
layout."""
import os
import pathlib
import pwd
import stat
import subprocess
import time

import pytest

from secenv import USERS, EVIL, as_user, digest


def test_init_makes_each_store_its_owners(sec):
    sec.init()
    for dom, path in sec.stores.items():
        st = os.stat(path)
        assert st.st_uid == pwd.getpwnam(USERS[dom]).pw_uid, dom
        assert stat.S_IMODE(st.st_mode) == 0o700, dom
        for f in ("data.mdb", "lock.mdb", "wlock"):
            fst = os.stat(path / f)
            assert fst.st_uid == st.st_uid, (dom, f)
            assert stat.S_IMODE(fst.st_mode) == 0o600, (dom, f)


@pytest.mark.parametrize("attacker", ["web", "evil"])
def test_other_domains_stores_are_out_of_reach(sec, attacker):
    """Neither the web uid nor a stranger can list, read, plant a link in,
    or open through libgatehouse any store but its own."""
    sec.init()
    user = USERS["web"] if attacker == "web" else EVIL
    before = {d: digest(p) for d, p in sec.stores.items()}
    for dom in ("core", "mail", "login") + (("web",) if attacker == "evil"
                                            else ()):
        p = sec.stores[dom]
        r = as_user(user, ["ls", p])
        assert r.returncode != 0 and "Permission denied" in r.stderr
        r = as_user(user, ["ln", "-s", "/etc/shadow", p / "wlock2"])
        assert r.returncode != 0
        r = as_user(user, ["cat", p / "data.mdb"])
        assert r.returncode != 0
        r = sec.gh("--domain", dom, "events", "list", user=user,
                   check=False)
        assert r.returncode == 77, r.stderr
        assert "Permission denied" in r.stderr or "owned by" in r.stderr
    if attacker == "web":
        # its own store is its own
        assert sec.gh("--domain", "web", "events", "list",
                      user=user).returncode == 0
    after = {d: digest(p) for d, p in sec.stores.items()}
    for d in before:
        if not (attacker == "web" and d == "web"):
            assert before[d] == after[d], d


def old_layout_store(sec, name="old"):
    """A store as the old layout made it: group-writable 2770 directory of
    group ghsec-web, files 0660.  The attacker (ghsec-web) can plant in
    it, which is what the new code must survive."""
    p = sec.base / name
    sec.conf.write_text(f"[store]\npath = {p}\nsync = no\n")
    sec.gh("store", "init")
    web = pwd.getpwnam(USERS["web"])
    os.chown(p, 0, web.pw_gid)
    os.chmod(p, 0o2770)
    for f in p.iterdir():
        os.chown(f, 0, web.pw_gid)
        os.chmod(f, 0o660)
    return p


@pytest.mark.parametrize("name", ["wlock", "lock.mdb", "data.mdb"])
@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "socket"])
def test_root_never_follows_what_a_group_member_planted(sec, name, kind):
    """Finding 1: in a group-writable store, the web uid replaces a file
    with a link, FIFO or socket; root's gatehouse command then neither
    follows it nor hangs, and says why.  The victim files (a root-owned
    file, and one the web uid owns, for hard links) are unchanged byte for
    byte, and so is /etc/nologin's absence."""
    p = old_layout_store(sec)
    victim = sec.base / "victim"
    victim.write_text("root's file\n")
    os.chmod(victim, 0o644)
    target = p / name
    user = USERS["web"]
    own = sec.base / "webfile"
    if kind == "hardlink":
        # protected_hardlinks stops linking root's files: link its own
        own.write_text("web's file\n")
        web = pwd.getpwnam(user)
        os.chown(own, web.pw_uid, web.pw_gid)
        os.chmod(own, 0o666)
    cmds = {
        "symlink": ["sh", "-c", f"rm -f {target} && ln -s {victim} {target}"],
        "hardlink": ["sh", "-c", f"rm -f {target} && ln {own} {target}"],
        "fifo": ["sh", "-c", f"rm -f {target} && mkfifo {target}"],
        "socket": ["/usr/bin/python3", "-c",
                   "import os,socket,sys; os.unlink(sys.argv[1]); "
                   "socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
                   target],
    }
    r = as_user(user, cmds[kind])
    assert r.returncode == 0, r.stderr
    before = digest(victim)
    before_own = digest(own) if own.exists() else None
    for args in (["store", "info"], ["events", "list"], ["store", "init"]):
        t0 = time.monotonic()
        r = sec.gh(*args, check=False)
        assert time.monotonic() - t0 < 20   # a FIFO did not hang it
        assert r.returncode != 0, (args, r.stdout)
        assert ("writable by group" in r.stderr or name in r.stderr or
                "owned by" in r.stderr), r.stderr
    assert digest(victim) == before
    if before_own:
        assert digest(own) == before_own
    assert not pathlib.Path("/etc/nologin").exists()


def test_store_directory_replaced_by_a_link(sec):
    """The web uid, able to write the directory above a store, replaces
    the store with a link to /etc: refused, since a directory above the
    store is writable by others."""
    loose = sec.base / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)
    store = loose / "store"
    sec.conf.write_text(f"[store]\npath = {store}\nsync = no\n")
    r = as_user(USERS["web"], ["ln", "-s", "/etc", store])
    assert r.returncode == 0
    before = digest("/etc/passwd")
    r = sec.gh("store", "init", check=False)
    assert r.returncode != 0
    assert "writable by group or others" in r.stderr
    r = sec.gh("events", "list", check=False)
    assert r.returncode != 0
    assert digest("/etc/passwd") == before
    assert not pathlib.Path("/etc/data.mdb").exists()
    assert not pathlib.Path("/etc/wlock").exists()


def test_init_fixes_a_clean_old_layout_store(sec):
    """An old-layout store with nothing planted: init (as root) makes it
    the owner's alone again, and it keeps its records."""
    p = old_layout_store(sec)
    sec.gh("events", "enqueue", "--user", "u", "--type", "t", "--title",
           "kept", check=False)   # refused: still group-writable
    r = sec.gh("store", "init")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o700
    for f in p.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, f
    sec.gh("events", "enqueue", "--user", "u", "--type", "t", "--title",
           "after")
    assert [e["title"] for e in sec.events()] == ["after"]


def test_a_domain_with_a_garbage_store_harms_only_itself(sec):
    """The web uid writes random bytes over its own data file.  Its bridge
    stops with a clear error; the core, the mail and login stores and
    notifyd are untouched, and other domains' events still flow."""
    sec.init()
    sec.start_notifyd()
    others = {d: digest(sec.stores[d]) for d in ("mail", "login")}
    r = as_user(USERS["web"], ["sh", "-c",
                               f"head -c 65536 /dev/urandom > "
                               f"{sec.stores['web']}/data.mdb"])
    assert r.returncode == 0
    p = sec.start_bridge("web")
    p.wait(20)
    assert p.returncode != 0
    assert "cannot open" in sec.log("bridge-web")
    assert {d: digest(sec.stores[d]) for d in others} == others
    sec.gh("--domain", "mail", "events", "enqueue", "--user", "alice",
           "--type", "mail.rejected", "--title", "still flowing")
    sec.start_bridge("mail")
    ev = __import__("secenv").wait_until(
        lambda: [e for e in sec.events() if e["title"] == "still flowing"],
        20, "the mail event in the core")
    assert ev[0]["source"] == "milter"
    assert sec.procs["notifyd"].poll() is None
