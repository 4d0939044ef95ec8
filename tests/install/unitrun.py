"""Start a service from its systemd unit file where systemd does not run
(the install test's chroot), the way systemd would.

Read from the unit as installed (/etc/systemd/system, /run/systemd/system,
/lib/systemd/system, with NAME.d/*.conf drop-ins, and NAME@.service for a
template's instance):

  Type= (simple, exec, forking, oneshot, notify: READY=1 is waited for on a
  NOTIFY_SOCKET), User=, Group=, SupplementaryGroups=, ExecStartPre=,
  ExecStart=, ExecStartPost=, ExecStop=, ExecCondition= (condition()), the
  command prefixes - + ! @ :,
  specifiers (%i %I %n %N %p %P %t %S %C %L %E %T %V %H %u %U %h %%),
  $VAR and ${VAR} in commands, RuntimeDirectory=, StateDirectory=,
  CacheDirectory=, LogsDirectory=, ConfigurationDirectory= with their *Mode=
  (made owned by User:Group, their variables set), Environment=,
  EnvironmentFile=, WorkingDirectory=, UMask=, PIDFile=, KillSignal=,
  NoNewPrivileges=, CapabilityBoundingSet=, AmbientCapabilities=.

Each command runs as setpriv(1) makes it: the user, the group, the
supplementary groups of the user plus SupplementaryGroups=, the bounding
set and no_new_privs as the unit says, in a new session with a clean
environment (systemd's PATH, USER, LOGNAME, HOME, SHELL, the unit's
variables).  Its output goes to LOGDIR/UNIT.log.

The file-system sandbox is emulated too, in a mount namespace of the
command's own (unshare --mount), since it is what hardened units most often
get wrong: ProtectSystem= (yes, full, strict: the root read-only, /run
too), ReadWritePaths=, ReadOnlyPaths=, InaccessiblePaths=, BindPaths=,
BindReadOnlyPaths=, PrivateTmp=, ProtectHome= (yes, read-only, tmpfs), with
the *Directory= paths writable; a path that is missing without a '-'
prefix fails the start, as systemd's 226/NAMESPACE does.  This needs the
root to be a mount point (tests/install/nsinit.sh bind-mounts it onto
itself).

Not emulated: the other sandboxing directives (SystemCallFilter=,
RestrictAddressFamilies=, PrivateDevices=, ProtectKernel*= ...), cgroups,
restarts, dependencies (the caller starts units in order).  Those are
checked by systemd-analyze security, not by this.
"""

import glob
import grp
import os
import pwd
import re
import select
import shlex
import signal
import socket
import subprocess
import time

UNIT_DIRS = ["/etc/systemd/system", "/run/systemd/system",
             "/lib/systemd/system", "/usr/lib/systemd/system"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STATE = "/run/gh-unitrun"

DIR_KINDS = {  # directive: (base, variable, default mode)
    "RuntimeDirectory": ("/run", "RUNTIME_DIRECTORY", 0o755),
    "StateDirectory": ("/var/lib", "STATE_DIRECTORY", 0o755),
    "CacheDirectory": ("/var/cache", "CACHE_DIRECTORY", 0o755),
    "LogsDirectory": ("/var/log", "LOGS_DIRECTORY", 0o755),
    "ConfigurationDirectory": ("/etc", "CONFIGURATION_DIRECTORY", 0o755),
}
# Directives read here; any other [Service] directive is listed as ignored.
HANDLED = {"Type", "User", "Group", "SupplementaryGroups", "ExecCondition",
           "ExecStartPre",
           "ExecStart", "ExecStartPost", "ExecStop", "ExecReload",
           "Environment", "EnvironmentFile", "WorkingDirectory", "UMask",
           "PIDFile", "KillSignal", "NoNewPrivileges",
           "CapabilityBoundingSet", "AmbientCapabilities", "NotifyAccess",
           "GuessMainPID", "TimeoutStartSec", "TimeoutStopSec", "KillMode"}
SANDBOX = {"ProtectSystem", "ReadWritePaths", "ReadOnlyPaths",
           "InaccessiblePaths", "BindPaths", "BindReadOnlyPaths", "PrivateTmp",
           "ProtectHome"}
HANDLED |= set(DIR_KINDS) | {k + "Mode" for k in DIR_KINDS} | SANDBOX
LIST_KEYS = {"ExecCondition", "ExecStartPre", "ExecStartPost", "ExecStop",
             "Environment", "EnvironmentFile", "SupplementaryGroups", "CapabilityBoundingSet",
             "AmbientCapabilities", "ReadWritePaths", "ReadOnlyPaths",
             "InaccessiblePaths", "BindPaths", "BindReadOnlyPaths"} | set(DIR_KINDS)


class UnitError(Exception):
    pass


def parse_unit_text(text, into):
    """systemd's unit syntax: [Section], Key=Value, '\\' continuations, '#'
    and ';' comments; a key given again appends (list keys) or replaces;
    an empty value empties a list."""
    section = None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            into.setdefault(section, {})
            continue
        if "=" not in line or section is None:
            continue
        k, v = line.split("=", 1)
        k, v = k.strip(), v.strip()
        sec = into[section]
        if k in LIST_KEYS or k.startswith("Exec"):
            if v == "":
                sec[k] = []
            else:
                sec.setdefault(k, []).append(v)
        else:
            sec[k] = v


def unescape(s):
    """systemd-escape's reverse: \\xNN, and '-' for '/'."""
    s = s.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


class Unit:
    def __init__(self, name, logdir, root="/"):
        self.name = name
        self.logdir = logdir
        self.log = os.path.join(logdir, name + ".log")
        self.proc = None
        self.mainpid = None
        m = re.fullmatch(r"([^@]+)@([^.]*)\.(\w+)", name)
        if m:
            self.prefix, self.instance, suffix = m.groups()
            template = f"{self.prefix}@.{suffix}"
        else:
            self.prefix, self.instance = name.rsplit(".", 1)[0], ""
            template = None
        self.conf = {}
        self.files = []
        main = None
        for d in UNIT_DIRS:
            for cand in [name] + ([template] if template else []):
                p = os.path.join(root + d, cand)
                if os.path.exists(p):
                    main = p
                    break
            if main:
                break
        if not main:
            raise UnitError(f"{name}: no unit file in {' '.join(UNIT_DIRS)}")
        self.files.append(main)
        parse_unit_text(open(main).read(), self.conf)
        dropins = {}
        for d in reversed(UNIT_DIRS):  # /etc wins over /lib for one name
            for cand in [name] + ([template] if template else []):
                for p in glob.glob(os.path.join(root + d, cand + ".d", "*.conf")):
                    dropins[os.path.basename(p)] = p
        for base in sorted(dropins):
            self.files.append(dropins[base])
            parse_unit_text(open(dropins[base]).read(), self.conf)
        self.svc = self.conf.get("Service", {})
        self.type = self.svc.get("Type", "simple")
        if not self.svc.get("ExecStart") and self.type != "oneshot":
            raise UnitError(f"{name}: no ExecStart=")
        self.ignored = sorted(k for k in self.svc if k not in HANDLED)
        self.user = self.spec(self.svc.get("User", "")) or None
        self.group = self.spec(self.svc.get("Group", "")) or None

    # ---- specifiers, environment, command lines ----

    def spec(self, s):
        def one(m):
            c = m.group(1)
            user = self.svc.get("User", "root") or "root"
            table = {
                "i": self.instance, "I": unescape(self.instance),
                "n": self.name, "N": self.name.rsplit(".", 1)[0],
                "p": self.prefix, "P": unescape(self.prefix),
                "t": "/run", "S": "/var/lib", "C": "/var/cache",
                "L": "/var/log", "E": "/etc", "T": "/tmp", "V": "/var/tmp",
                "H": socket.gethostname(), "%": "%",
            }
            if c in table:
                return table[c]
            if c in "uUh":
                try:
                    pw = pwd.getpwnam(user)
                except KeyError:
                    raise UnitError(f"{self.name}: no user {user}")
                return {"u": pw.pw_name, "U": str(pw.pw_uid), "h": pw.pw_dir}[c]
            raise UnitError(f"{self.name}: specifier %{c} not emulated")
        return re.sub(r"%(.)", one, s)

    def environment(self):
        env = {"PATH": PATH, "LANG": "C.UTF-8"}
        if self.user:
            try:
                pw = pwd.getpwnam(self.user)
            except KeyError:
                raise UnitError(f"{self.name}: User={self.user} does not exist")
            env.update(USER=pw.pw_name, LOGNAME=pw.pw_name, HOME=pw.pw_dir,
                       SHELL=pw.pw_shell)
        for f in self.svc.get("EnvironmentFile", []):
            f = self.spec(f)
            optional = f.startswith("-")
            f = f.lstrip("-")
            try:
                text = open(f).read()
            except OSError:
                if optional:
                    continue
                raise UnitError(f"{self.name}: EnvironmentFile {f} unreadable")
            for line in text.splitlines():
                line = line.strip()
                if not line or line[0] in "#;" or "=" not in line:
                    continue
                k, v = line.split("=", 1)
                v = v.strip()
                if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                    v = v[1:-1]
                env[k.strip()] = v
        for e in self.svc.get("Environment", []):
            for word in shlex.split(self.spec(e)):
                if "=" in word:
                    k, v = word.split("=", 1)
                    env[k] = v
        for kind, (base, var, _) in DIR_KINDS.items():
            names = self.dirs(kind)
            if names:
                env[var] = ":".join(os.path.join(base, n) for n in names)
        return env

    def dirs(self, kind):
        out = []
        for v in self.svc.get(kind, []):
            out += self.spec(v).split()
        return out

    def command(self, line, env):
        """(argv, flags) of an Exec line: prefixes, specifiers, $VAR
        (split into words) and ${VAR} (one word)."""
        line = self.spec(line)
        flags = set()
        while line and line[0] in "-@:+!":
            flags.add(line[0])
            line = line[1:]
        words = shlex.split(line)
        if ":" not in flags:
            out = []
            for w in words:
                m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
                if m:
                    out += env.get(m.group(1), "").split()
                    continue
                out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                                  lambda mm: env.get(mm.group(1), ""), w))
            words = out
        if "@" in flags:  # @path argv0 args...: argv0 is cosmetic here
            words = [words[0]] + words[2:]
        if not words or not words[0].startswith("/"):
            # systemd 239+ searches PATH for a bare name
            for d in PATH.split(":"):
                if words and os.access(os.path.join(d, words[0]), os.X_OK):
                    words[0] = os.path.join(d, words[0])
                    break
        return words, flags

    # ---- credentials ----

    def setpriv(self, flags):
        """The setpriv(1) prefix that gives a command the unit's
        credentials ('+' and '!' commands keep root's)."""
        if "+" in flags:
            return []
        cmd = ["setpriv"]
        if self.user and "!" not in flags:
            pw = pwd.getpwnam(self.user)
            gid = grp.getgrnam(self.group).gr_gid if self.group else pw.pw_gid
            groups = {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}
            groups.add(gid)
            for v in self.svc.get("SupplementaryGroups", []):
                for g in self.spec(v).split():
                    try:
                        groups.add(grp.getgrnam(g).gr_gid)
                    except KeyError:
                        raise UnitError(f"{self.name}: SupplementaryGroups: "
                                        f"no group {g}")
            cmd += [f"--reuid={pw.pw_uid}", f"--regid={gid}",
                    "--groups=" + ",".join(str(g) for g in sorted(groups))]
        elif self.group and "!" not in flags:
            cmd += [f"--regid={grp.getgrnam(self.group).gr_gid}", "--clear-groups"]
        caps = self.svc.get("CapabilityBoundingSet")
        if caps:
            words = " ".join(caps).split()
            if words and words[0].startswith("~"):
                words[0] = words[0][1:]
                spec = ["+all"] + ["-" + c.lower().replace("cap_", "") for c in words]
            else:
                spec = ["-all"] + ["+" + c.lower().replace("cap_", "") for c in words]
            cmd.append("--bounding-set=" + ",".join(spec))
        amb = " ".join(self.svc.get("AmbientCapabilities", [])).split()
        if amb and self.user and "!" not in flags:
            spec = ",".join("+" + c.lower().replace("cap_", "") for c in amb)
            cmd += ["--inh-caps=" + spec, "--ambient-caps=" + spec]
        if self.svc.get("NoNewPrivileges", "no") in ("yes", "true", "on", "1"):
            cmd.append("--no-new-privs")
        return cmd + ["--"] if len(cmd) > 1 else []

    def paths(self, key):
        out = []
        for v in self.svc.get(key, []):
            out += self.spec(v).split()
        return out

    def sandbox(self, flags):
        """The unshare(1) + sh(1) prefix that gives a command the unit's
        file-system view (None if the unit asks for none; '+' commands
        run outside it, as under systemd)."""
        if "+" in flags:
            return []
        yes = ("yes", "true", "on", "1")
        ps = self.svc.get("ProtectSystem", "no")
        ph = self.svc.get("ProtectHome", "no")
        ptmp = self.svc.get("PrivateTmp", "no") in yes
        lists = {k: self.paths(k) for k in ("ReadWritePaths", "ReadOnlyPaths",
                                             "InaccessiblePaths", "BindPaths",
                                             "BindReadOnlyPaths")}
        if ps in ("no", "false", "off", "0") and ph in ("no", "false") and \
                not ptmp and not any(lists.values()):
            return []
        q = shlex.quote
        lines = []

        def need(p, what):
            opt = p.startswith("-")
            p = p.lstrip("-+")
            if not os.path.lexists(p):
                if opt:
                    return None
                raise UnitError(f"{self.name}: {what}={p} does not exist "
                                "(systemd: 226/NAMESPACE)")
            return p

        def ro(p):
            lines.append(f"mount --bind {q(p)} {q(p)}; "
                         f"mount -o remount,bind,ro {q(p)}")

        def rw(p):
            lines.append(f"mount --bind {q(p)} {q(p)}; "
                         f"mount -o remount,bind,rw {q(p)}")
        # Binds first (their sources as the host sees them).
        for key, ro_bind in (("BindPaths", False), ("BindReadOnlyPaths", True)):
            for v in lists[key]:
                opt = v.startswith("-")
                parts = v.lstrip("-").split(":")
                src, dst = parts[0], parts[1] if len(parts) > 1 else parts[0]
                if need(("-" if opt else "") + src, key) is None:
                    continue
                lines.append(f"mount --bind {q(src)} {q(dst)}")
                if ro_bind:
                    lines.append(f"mount -o remount,bind,ro {q(dst)}")
        if ps == "strict":
            lines.append("mount -o remount,bind,ro /")
            lines.append("mount -o remount,bind,ro /run")
        elif ps == "full":
            for p in ("/usr", "/boot", "/efi", "/etc"):
                if os.path.isdir(p):
                    ro(p)
        elif ps in yes:
            for p in ("/usr", "/boot", "/efi"):
                if os.path.isdir(p):
                    ro(p)
        if ph in yes or ph in ("read-only", "tmpfs"):
            for p in ("/home", "/root", "/run/user"):
                if not os.path.isdir(p):
                    continue
                if ph == "read-only":
                    ro(p)
                else:
                    mode = "0755" if ph == "tmpfs" else "0000"
                    lines.append(f"mount -t tmpfs -o ro,mode={mode} tmpfs {q(p)}")
        if ptmp:
            for p in ("/tmp", "/var/tmp"):
                lines.append(f"mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {q(p)}")
        writable = []
        for kind, (base, _, _) in DIR_KINDS.items():
            if kind != "ConfigurationDirectory":
                writable += [os.path.join(base, n) for n in self.dirs(kind)]
        for p in lists["ReadWritePaths"]:
            p = need(p, "ReadWritePaths")
            if p:
                writable.append(p)
        for p in writable:
            rw(p)
        for p in lists["ReadOnlyPaths"]:
            p = need(p, "ReadOnlyPaths")
            if p:
                ro(p)
        for p in lists["InaccessiblePaths"]:
            p = need(p, "InaccessiblePaths")
            if p is None:
                continue
            if os.path.isdir(p):
                lines.append(f"mount -t tmpfs -o ro,mode=0000 tmpfs {q(p)}")
            else:
                lines.append(f"mount --bind /dev/null {q(p)}")
        script = "set -e\n" + "\n".join(lines) + '\nexec "$@"\n'
        return ["unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", script, "sandbox"]

    def make_dirs(self):
        pw = pwd.getpwnam(self.user) if self.user else None
        uid = pw.pw_uid if pw else 0
        gid = (grp.getgrnam(self.group).gr_gid if self.group
               else pw.pw_gid if pw else 0)
        for kind, (base, _, default) in DIR_KINDS.items():
            mode = int(self.svc.get(kind + "Mode", oct(default)), 8)
            for n in self.dirs(kind):
                p = os.path.join(base, n)
                os.makedirs(p, exist_ok=True)
                # like systemd: the directory is the service user's
                # (ConfigurationDirectory stays root's)
                if kind != "ConfigurationDirectory":
                    os.chown(p, uid, gid)
                os.chmod(p, mode)

    # ---- running ----

    def _logf(self, what):
        os.makedirs(self.logdir, exist_ok=True)
        f = open(self.log, "ab")
        f.write(f"== {time.strftime('%H:%M:%S')} {what}\n".encode())
        f.flush()
        return f

    def _spawn(self, line, env, what):
        argv, flags = self.command(line, env)
        full = self.sandbox(flags) + self.setpriv(flags) + argv
        shown = full[full.index("sandbox") + 1:] if "sandbox" in full else full
        f = self._logf(f"{what}: {' '.join(shlex.quote(a) for a in shown)}"
                       + (" (in its sandbox)" if shown is not full else ""))
        umask = int(self.svc.get("UMask", "0022"), 8)
        cwd = self.svc.get("WorkingDirectory", "/")
        if cwd.startswith("-"):
            cwd = cwd[1:] if os.path.isdir(cwd[1:]) else "/"
        if cwd == "~":
            cwd = env.get("HOME", "/")
        try:
            p = subprocess.Popen(full, env=env, stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=subprocess.STDOUT,
                                 cwd=cwd, umask=umask,
                                 start_new_session=True)
        except OSError as e:
            f.close()
            raise UnitError(f"{self.name}: {what} {argv[0]}: {e}")
        f.close()
        return p, flags

    def _run(self, line, env, what, timeout):
        p, flags = self._spawn(line, env, what)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise UnitError(f"{self.name}: {what} timed out after {timeout}s"
                            + self.tail())
        if rc != 0 and "-" not in flags:
            raise UnitError(f"{self.name}: {what} exited {rc}" + self.tail())
        return rc

    def tail(self, n=15):
        try:
            lines = open(self.log, errors="replace").read().splitlines()
        except OSError:
            return ""
        return "\n    " + "\n    ".join(lines[-n:])

    def condition(self, timeout=30):
        """ExecCondition= as systemd runs it before ExecStartPre=: True
        if every line exits 0, False at the first that exits 1 to 254 (the
        start is skipped, not failed); 255 or a signal is a failure."""
        env = self.environment()
        for line in self.svc.get("ExecCondition", []):
            p, _ = self._spawn(line, env, "ExecCondition")
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise UnitError(f"{self.name}: ExecCondition timed out after "
                                f"{timeout}s" + self.tail())
            if rc == 0:
                continue
            if 1 <= rc <= 254:
                return False
            raise UnitError(f"{self.name}: ExecCondition failed ({rc})" + self.tail())
        return True

    def start(self, timeout=30):
        """Start it; "skipped" (nothing started) if an ExecCondition= says
        no, as systemd skips it."""
        if not self.condition(timeout):
            return "skipped"
        env = self.environment()
        self.make_dirs()
        os.makedirs(STATE, exist_ok=True)
        for line in self.svc.get("ExecStartPre", []):
            self._run(line, env, "ExecStartPre", timeout)
        notify = None
        if self.type == "notify":
            path = os.path.join(STATE, self.name + ".notify")
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            notify.bind(path)
            os.chmod(path, 0o777)
            env = dict(env, NOTIFY_SOCKET=path)
        try:
            if self.type in ("oneshot", "forking"):
                for line in self.svc.get("ExecStart", []):
                    self._run(line, env, "ExecStart", timeout)
                if self.type == "forking":
                    self.mainpid = self._pidfile(timeout)
            else:
                lines = self.svc["ExecStart"]
                if len(lines) != 1:
                    raise UnitError(f"{self.name}: Type={self.type} needs "
                                    "exactly one ExecStart=")
                self.proc, _ = self._spawn(lines[0], env, "ExecStart")
                self.mainpid = self.proc.pid
                if notify:
                    self._wait_ready(notify, timeout)
                else:
                    # systemd calls a simple service started once it
                    # forked; wait a little so a start-up error shows here
                    time.sleep(0.5)
                    if self.proc.poll() is not None:
                        raise UnitError(f"{self.name}: exited "
                                        f"{self.proc.returncode} at start"
                                        + self.tail())
        finally:
            if notify:
                notify.close()
        for line in self.svc.get("ExecStartPost", []):
            self._run(line, dict(env, MAINPID=str(self.mainpid or "")),
                      "ExecStartPost", timeout)
        f = self._logf(f"started, main pid {self.mainpid}")
        f.close()
        return self

    def _pidfile(self, timeout):
        pf = self.svc.get("PIDFile")
        if not pf:
            return None
        pf = self.spec(pf)
        end = time.time() + timeout
        while time.time() < end:
            try:
                return int(open(pf).read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
        raise UnitError(f"{self.name}: no PID file {pf}" + self.tail())

    def _wait_ready(self, sock, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise UnitError(f"{self.name}: exited {self.proc.returncode} "
                                "before READY=1" + self.tail())
            r, _, _ = select.select([sock], [], [], 0.2)
            if not r:
                continue
            msg = sock.recv(4096).decode(errors="replace")
            for kv in msg.split("\n"):
                if kv == "READY=1":
                    return
                if kv.startswith("MAINPID="):
                    self.mainpid = int(kv[8:])
        raise UnitError(f"{self.name}: no READY=1 within {timeout}s" + self.tail())

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        if self.mainpid:
            return _alive(self.mainpid)
        return False

    def stop(self, timeout=15):
        """ExecStop= if any, then KillSignal= (SIGTERM) to the main process
        and SIGKILL to what remains of its tree, as KillMode=mixed does."""
        env = dict(self.environment(), MAINPID=str(self.mainpid or ""))
        tree = _descendants(self.mainpid) if self.mainpid else set()
        for line in self.svc.get("ExecStop", []):
            try:
                self._run(line, env, "ExecStop", timeout)
            except UnitError:
                pass
        sig = getattr(signal, self.svc.get("KillSignal", "SIGTERM"))
        if self.mainpid and _alive(self.mainpid):
            try:
                os.kill(self.mainpid, sig)
            except ProcessLookupError:
                pass
        end = time.time() + timeout
        while time.time() < end and self.mainpid and _alive(self.mainpid):
            if self.proc is not None:
                try:
                    self.proc.wait(0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
        clean = not (self.mainpid and _alive(self.mainpid))
        for pid in tree | ({self.mainpid} if self.mainpid else set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        f = self._logf("stopped" if clean else "killed (did not stop in time)")
        f.close()
        return clean


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


if __name__ == "__main__":
    import sys
    u = Unit(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "/tmp")
    print(u.files, u.type, u.user, u.group, u.ignored)
    for line in u.svc.get("ExecStart", []):
        print(u.command(line, u.environment()))
