"""The world of the hostile-producer suite (tests/security/, docs/security.md).

Each test runs an attack for real as the attacker's own uid, with setpriv:
users ghsec-core, ghsec-mail, ghsec-web and ghsec-login own the four
domains' stores, and ghsec-evil belongs to no domain.  The suite creates
them (and their groups) and removes them at the end.

SecEnv lays out one test's Gatehouse: a root-owned base directory, the four
stores made by `gatehouse store init` for their owners, a notifyd started
as root (it becomes ghsec-core) and the bridges (started as root, each
becomes its store's owner).
"""
import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import pwd
import shutil
import signal
import struct
import subprocess
import tempfile
import time

from ghtest import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
GATEHOUSE = BUILD / "gatehouse"
NOTIFYD = BUILD / "gatehouse-notifyd"
BRIDGE = BUILD / "gatehouse-bridge"
MILTER = BUILD / "gatehouse-milter"

USERS = {"core": "ghsec-core", "mail": "ghsec-mail", "web": "ghsec-web",
         "login": "ghsec-login"}
EVIL = "ghsec-evil"


def make_users():
    for name in list(USERS.values()) + [EVIL]:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home",
                            "--user-group", "--shell", "/usr/sbin/nologin",
                            name], check=True)


def remove_users():
    for name in list(USERS.values()) + [EVIL]:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


def as_user(user, cmd, check=False, timeout=30, **kw):
    """Run cmd as user (its own group only, no supplementary groups)."""
    pw = pwd.getpwnam(user)
    full = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
            "--clear-groups", "--"] + [str(c) for c in cmd]
    return subprocess.run(full, capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)


def digest(path):
    """SHA-256 of a file's bytes, or of a directory tree's names, modes,
    owners and bytes: what 'unchanged byte for byte' compares."""
    p = pathlib.Path(path)
    h = hashlib.sha256()
    items = [p] if not p.is_dir() else sorted(p.rglob("*")) + [p]
    for f in items:
        st = os.lstat(f)
        h.update(f"{f}:{st.st_mode:o}:{st.st_uid}:{st.st_gid}".encode())
        if f.is_file() and not f.is_symlink():
            h.update(f.read_bytes())
    return h.hexdigest()


class SecEnv:
    def __init__(self, base, domains=("mail", "web", "login")):
        self.base = pathlib.Path(base)
        os.chmod(self.base, 0o755)
        self.run_dir = self.base / "run"
        self.run_dir.mkdir()
        core = pwd.getpwnam(USERS["core"])
        os.chown(self.run_dir, core.pw_uid, core.pw_gid)
        self.sock = self.run_dir / "bridge.sock"
        self.conf = self.base / "gatehouse.conf"
        self.stores = {"core": self.base / "core"}
        for d in domains:
            self.stores[d] = self.base / d
        self.procs = {}
        self.logs = {}
        self.write_conf()

    def write_conf(self, extra=""):
        lines = ["[store]", f"path = {self.stores['core']}",
                 f"owner = {USERS['core']}", "sync = no",
                 "lock_timeout = 2s"]
        for d in ("mail", "web", "login"):
            if d in self.stores:
                lines += [f"{d} = {self.stores[d]}",
                          f"{d}_owner = {USERS[d]}"]
        lines += ["", "[notifyd]", f"bridge_socket = {self.sock}",
                  "poll_interval = 50ms", "log = stderr",
                  f"templates = {self.base / 'no-templates'}",
                  f"shipped_templates = {self.base / 'no-shipped'}", ""]
        self.conf.write_text("\n".join(lines) + extra)

    # ---- commands ----
    def gh(self, *args, user=None, check=True, json_out=False):
        cmd = [GATEHOUSE, "-c", self.conf]
        if json_out:
            cmd.append("--json")
        cmd += list(args)
        if user:
            p = as_user(user, cmd)
        else:
            p = subprocess.run([str(c) for c in cmd], capture_output=True,
                               text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr}")
        if json_out and p.returncode == 0:
            return json.loads(p.stdout)
        return p

    def init(self):
        self.gh("store", "init")

    def events(self, domain="core", state=None):
        args = ["--domain", domain, "events", "list", "--limit", "1000"]
        if state:
            args += ["--state", state]
        return self.gh(*args, json_out=True)

    # ---- daemons ----
    def start(self, name, cmd, env=None):
        log = self.base / f"{name}.log"
        fp = open(log, "ab")
        self.procs[name] = subprocess.Popen([str(c) for c in cmd],
                                            stdout=fp, stderr=fp,
                                            env=env)
        self.logs[name] = log
        return self.procs[name]

    def log(self, name):
        return self.logs[name].read_text(errors="replace")

    def start_notifyd(self):
        self.start("notifyd", [NOTIFYD, "-c", self.conf, "--stderr"])
        wait_until(lambda: self.sock.exists(), 20, "the bridge socket")

    def start_bridge(self, domain, user=None, env=None):
        """Started as root (it becomes its store's owner), or as user
        already, as systemd's User= starts it."""
        cmd = [BRIDGE, "-c", self.conf, domain]
        if user:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                   "--clear-groups", "--"] + cmd
        p = self.start(f"bridge-{domain}", cmd, env=env)
        wait_until(lambda: "connected to gatehouse-notifyd" in
                   self.log(f"bridge-{domain}") or p.poll() is not None,
                   20, f"the {domain} bridge")
        return p

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for name in list(self.procs):
            self.stop(name)


@contextlib.contextmanager
def hold_wlock(store, user):
    """Hold store/wlock's write lock forever, as user, until the block
    ends: what a stuck or hostile writer of that domain does."""
    code = ("import fcntl,struct,sys,time\n"
            "f=open(sys.argv[1],'r+')\n"
            "fcntl.fcntl(f,fcntl.F_OFD_SETLKW,struct.pack('hhqqi4x',"
            "fcntl.F_WRLCK,0,0,0,0))\n"
            "print('held',flush=True)\n"
            "time.sleep(3600)\n")
    pw = pwd.getpwnam(user)
    p = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}",
                          f"--regid={pw.pw_gid}", "--clear-groups", "--",
                          "/usr/bin/python3", "-c", code,
                          str(pathlib.Path(store) / "wlock")],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        yield p
    finally:
        p.kill()
        p.wait()
