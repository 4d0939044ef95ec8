"""Helpers for pam_gatehouse's integration tests (imported, not a conftest,
so that it cannot shadow tests/integration/conftest.py).

PamEnv holds one test's world: a store made by storetool, a directory of PAM
service files (read through pam_start_confdir by pamdrv, or through
pam_wrapper by pamtester and sshd), and ways to look into the store.
"""
import json
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
MODULE = BUILD / "pam_gatehouse.so"
# the writer program the module execs in modes detach and child; every
# service line's @MODULE@ names it (writer=), the installed one is not used
WRITER = BUILD / "gatehouse-pam-writer"
PAMDRV = BUILD / "tests" / "integration" / "pam_notify" / "pamdrv"
STORETOOL = BUILD / "tests" / "integration" / "pam_notify" / "storetool"
# pam_matrix (libpam-wrapper): a password module reading a text file
PAM_MATRIX = next(iter(sorted(pathlib.Path("/usr/lib").glob(
    "*/pam_wrapper/pam_matrix.so"))), pathlib.Path("/nonexistent/pam_matrix.so"))
PAM_WRAPPER = "libpam_wrapper.so"

# Linux-PAM return codes used in assertions.
PAM_SUCCESS = 0
PAM_PERM_DENIED = 6
PAM_AUTH_ERR = 7
PAM_SESSION_ERR = 14


def need_built():
    missing = [str(p) for p in (MODULE, WRITER, PAMDRV, STORETOOL)
               if not p.exists()]
    if missing:
        pytest.fail("not built (run `make check-programs`): " + ", ".join(missing))
    if not PAM_MATRIX.exists():
        pytest.fail("pam_matrix.so not found: install libpam-wrapper "
                    "(scripts/install-deps)")


class PamEnv:
    def __init__(self, tmp, owner=None):
        """owner: a user to give the store (init_store) to, as the packaged
        login store belongs to gatehouse-login: a root host's child then
        drops to it and execs the writer program.  The store then lives
        in a directory of its own that the user can reach (pytest's
        tmp_path is 0700); cleanup() removes it."""
        need_built()
        self.tmp = tmp
        self.owner = pwd.getpwnam(owner) if owner and os.geteuid() == 0 \
            else None
        self.base = None
        self.confdir = tmp / "pam.d"
        self.confdir.mkdir()
        # libpam complains (logs) when a service dir has no "other"
        (self.confdir / "other").write_text("".join(
            f"{t} required pam_deny.so\n"
            for t in ("auth", "account", "password", "session")))
        self.store = tmp / "store"
        if self.owner is not None:
            self.base = pathlib.Path(tempfile.mkdtemp(prefix="ghpam-"))
            os.chmod(self.base, 0o755)
            self.store = self.base / "store"
        self.conf = tmp / "gatehouse.conf"
        self.passdb = tmp / "passdb"
        self.passdb.write_text("")

    # ---- the store ----
    def init_store(self, map_size=None, path=None):
        cmd = [str(STORETOOL), "init", str(path or self.store)]
        if map_size:
            cmd.append(str(map_size))
        subprocess.run(cmd, check=True, timeout=30)
        store = pathlib.Path(path or self.store)
        if self.owner is not None and store == self.store:
            for p in [store] + list(store.iterdir()):
                os.chown(p, self.owner.pw_uid, self.owner.pw_gid)

    def cleanup(self):
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def tool(self, *args, check=True):
        proc = subprocess.run([str(STORETOOL)] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"storetool {args}: {proc.stderr}")
        return proc

    def events(self, store=None):
        out = self.tool("events", store or self.store).stdout
        return [json.loads(line) for line in out.splitlines() if line]

    def dump(self, db, store=None):
        out = self.tool("dump", store or self.store, db).stdout
        return [json.loads(line) for line in out.splitlines() if line]

    def known_hosts(self, store=None):
        return {tuple(r["key"].split("\0", 1)): r["value"]
                for r in self.dump("known_hosts", store)}

    def write_conf(self, **store_keys):
        keys = {"path": str(self.store), "sync": "no"}
        keys.update(store_keys)
        self.conf.write_text("[store]\n" + "".join(
            f"{k} = {v}\n" for k, v in keys.items()))
        return self.conf

    # ---- PAM services ----
    def service(self, name, lines):
        text = "\n".join(lines) \
            .replace("@MODULE@", f"{MODULE} writer={WRITER}") \
            .replace("@STORE@", str(self.store)) \
            .replace("@CONF@", str(self.conf)) \
            .replace("@MATRIX@", f"{PAM_MATRIX} passdb={self.passdb}")
        (self.confdir / name).write_text(text + "\n")
        return name

    def session_service(self, name="sess", args="", control="optional"):
        return self.service(name, [
            "session required pam_permit.so",
            f"session {control} @MODULE@ store=@STORE@ {args}",
        ])

    def auth_service(self, name="authsvc", args="", extra_session=None):
        """The recommended auth stack: the password module jumps over us
        on success; on failure we count, then pam_deny fails the stack."""
        lines = [
            "auth [success=2 default=ignore] @MATRIX@",
            f"auth [default=ignore] @MODULE@ fail store=@STORE@ {args}",
            "auth requisite pam_deny.so",
            "auth required pam_permit.so",
            "account required pam_permit.so",
        ]
        if extra_session:
            lines += extra_session
        return self.service(name, lines)

    def add_user(self, user, password, service):
        with open(self.passdb, "a") as f:
            f.write(f"{user}:{password}:{service}\n")

    def remove_wrapper_copies(self):
        """pam_wrapper copies the service directory to /tmp/pam.X and
        removes it in a destructor, which processes leaving with _exit
        (sshd's children) never run.  Its names are few (pam.0 .. pam.Z),
        so remove the copies of this test's services."""
        mark = str(self.tmp)
        for d in pathlib.Path("/tmp").glob("pam.?"):
            try:
                if any(mark in f.read_text(errors="replace")
                       for f in d.iterdir() if f.is_file()):
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass

    # ---- running PAM ----
    def drv(self, service, user, rhost=None, ops="open,close", tty=None,
            password=None, repeat=1, threads=1, check=False, ruser=None,
            timeout=60, wrap=None, sigchld=None):
        cmd = [str(PAMDRV), "--confdir", str(self.confdir), "--service",
               service, "--user", user, "--ops", ops, "--repeat", str(repeat),
               "--threads", str(threads)]
        for flag, val in (("--rhost", rhost), ("--tty", tty),
                          ("--password", password), ("--ruser", ruser),
                          ("--sigchld", sigchld)):
            if val is not None:
                cmd += [flag, val]
        if check:
            cmd.append("--check")
        if wrap:
            cmd = wrap + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        wait_writers()
        out = json.loads(proc.stdout.splitlines()[-1])
        out["stderr"] = proc.stderr
        return out

    def pamtester(self, service, user, *ops, items=(), debuglevel=None,
                  timeout=60, prefix=None, password=""):
        env = dict(os.environ, LD_PRELOAD=PAM_WRAPPER, PAM_WRAPPER="1",
                   PAM_WRAPPER_SERVICE_DIR=str(self.confdir))
        if debuglevel is not None:
            env["PAM_WRAPPER_DEBUGLEVEL"] = str(debuglevel)
        cmd = ["pamtester"]
        for it in items:
            cmd += ["-I", it]
        cmd += [service, user] + list(ops)
        if prefix:
            cmd = prefix + cmd
            env["PAM_WRAPPER_DISABLE_DEEPBIND"] = "1"
        # pamtester reads a password prompt's answer from stdin
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=timeout, input=password + "\n")
        wait_writers()
        return p


def writers():
    """Live detached writers (mode=detach): processes named pam_gatehouse,
    or running the writer program (its name changes at the exec, before it
    names itself pam_gatehouse again; its exe is set first, so one of the
    two always shows), zombies left for a non-reaping init excepted."""
    pids = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2:].split()[0]
        if state in ("Z", "X"):
            continue
        if comm != "pam_gatehouse":
            # the exec'd name: the file's (gatehouse-pam-w...), or on
            # kernels before 6.14 the descriptor's number
            if not (comm.startswith("gatehouse-pam") or comm.isdigit()):
                continue
            try:
                if os.readlink(d / "exe") != str(WRITER):
                    continue
            except OSError:
                continue
        pids.append(int(d.name))
    return pids


def wait_writers(timeout=10):
    """Wait until the detached writers of the logins so far are done: with
    the default mode the login returns before its record is written."""
    end = time.monotonic() + timeout
    while writers():
        if time.monotonic() > end:
            raise AssertionError(f"detached writers still running: "
                                 f"{writers()}")
        time.sleep(0.002)


def rcs(out, thread=0):
    """Return codes of the ops of every iteration of one thread."""
    return out["threads"][thread]["rc"]


def op_ms(out, op_index=0, thread=0):
    return max(row[op_index] for row in out["threads"][thread]["us_op"]) / 1000


def have(cmd):
    return shutil.which(cmd) is not None
