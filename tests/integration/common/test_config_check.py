"""`gatehouse config check` runs each part's own checks, and with
--as-service reads each daemon's files as that daemon's user;
`gatehouse-milter -t` and `gatehouse-notifyd --check`, run as root, check
as the user the daemon runs as; the CLI tells "permission denied" from
"no store".

The users (ghchk-*) are made for this module and removed after it, as
tests/integration/lib/secenv.py does; the files live in a 0755 directory of
their own (pytest's tmp_path is 0700: the users could not reach it).
"""
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import pytest

from ghtest import BUILD, GATEHOUSE

MILTER = BUILD / "gatehouse-milter"
NOTIFYD = BUILD / "gatehouse-notifyd"
WRITER = BUILD / "gatehouse-pam-writer"
USERS = {"core": "ghchk-core", "mail": "ghchk-mail", "web": "ghchk-web"}


@pytest.fixture(scope="module", autouse=True)
def users():
    if os.geteuid() != 0:
        pytest.skip("needs root: makes users and checks as them")
    for name in USERS.values():
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home",
                            "--user-group", "--shell", "/usr/sbin/nologin",
                            name], check=True)
    yield
    for name in USERS.values():
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


class Env:
    """A host's worth of Gatehouse: three stores with their owners, a key
    directory, templates, a pam.d, and a configuration built by section."""

    def __init__(self, base):
        self.base = pathlib.Path(base)
        os.chmod(self.base, 0o755)
        self.conf = self.base / "gatehouse.conf"
        self.keydir = self.base / "dkim"
        self.keydir.mkdir()
        self.templates = self.base / "templates"
        self.templates.mkdir()
        self.pamdir = self.base / "pam.d"
        self.pamdir.mkdir()
        self.sections = {
            "store": {"path": self.base / "core", "owner": USERS["core"],
                      "mail": self.base / "mail",
                      "mail_owner": USERS["mail"],
                      "web": self.base / "web", "web_owner": USERS["web"],
                      "sync": "no"},
            "milter": {"socket": "inet:10025@127.0.0.1",
                       "user": USERS["mail"],
                       "pid_file": self.base / "milter.pid"},
            "dkim": {"key_dir": self.keydir},
            "notifyd": {"templates": self.templates,
                        "bridge_socket": self.base / "bridge.sock"},
        }
        self.write()

    def write(self, **changes):
        for sec, keys in changes.items():
            sec = sec.replace("__", ".")
            if keys is None:
                self.sections.pop(sec, None)
                continue
            cur = self.sections.setdefault(sec, {})
            for k, v in keys.items():
                if v is None:
                    cur.pop(k, None)
                else:
                    cur[k] = v
        text = ""
        for sec, keys in self.sections.items():
            text += f"[{sec}]\n" + "".join(f"{k} = {v}\n"
                                           for k, v in keys.items()) + "\n"
        self.conf.write_text(text)

    def gh(self, *args):
        return subprocess.run([str(GATEHOUSE), "-c", str(self.conf)] +
                              [str(a) for a in args], capture_output=True,
                              text=True, timeout=60)

    def check(self, *args):
        return self.gh("config", "check", "--pam-dir", self.pamdir, *args)

    def key(self, domain="example.org", selector="s1"):
        path = self.keydir / domain / f"{selector}.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519",
                        "-out", str(path)], check=True, capture_output=True)
        return path


@pytest.fixture
def env():
    base = tempfile.mkdtemp(prefix="ghchk-")
    e = Env(base)
    p = e.gh("store", "init")
    assert p.returncode == 0, p.stderr
    try:
        yield e
    finally:
        shutil.rmtree(base, ignore_errors=True)


def give(path, user, mode):
    pw = pwd.getpwnam(user)
    os.chown(path, 0, pw.pw_gid)
    os.chmod(path, mode)


def test_a_good_configuration_passes(env):
    env.key()
    give(env.keydir / "example.org" / "s1.key", USERS["mail"], 0o640)
    (env.pamdir / "sshd").write_text(
        "session optional pam_gatehouse.so notify=always timeout_ms=100 "
        f"writer={WRITER}\n")
    p = env.check()
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"{env.conf}: ok"
    p = env.check("--as-service")
    assert p.returncode == 0, p.stderr
    assert "ok" in p.stdout


def test_internal_hosts_with_host_bits_fails_as_the_milter_does(env):
    env.write(milter={"internal_hosts": "10.1.2.3/8"})
    p = env.check()
    assert p.returncode == 78
    assert "milter: [milter] internal_hosts: '10.1.2.3/8'" in p.stderr
    assert "host bits" in p.stderr
    assert "ok" not in p.stdout
    m = subprocess.run([str(MILTER), "-t", "-c", str(env.conf)],
                       capture_output=True, text=True, timeout=60)
    assert m.returncode == 78
    # the same words: the same code said them
    assert "[milter] internal_hosts: '10.1.2.3/8' is not an address" in \
        m.stderr


def test_chat_channel_without_url_fails_as_notifyd_does(env):
    env.write(channel__ops={"type": "slack"})
    p = env.check()
    assert p.returncode == 78
    assert "notifyd:" in p.stderr
    assert "[channel.ops] url: the incoming webhook's http(s) URL is " \
        "required" in p.stderr
    n = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert n.returncode == 78
    assert "[channel.ops] url: the incoming webhook's http(s) URL is " \
        "required" in n.stderr


def test_dkim_keys_and_selectors(env):
    bad = env.keydir / "example.org" / "bad.key"
    bad.parent.mkdir()
    bad.write_text("not a key\n")
    p = env.check()
    assert p.returncode == 78 and "bad.key" in p.stderr, p.stderr
    bad.unlink()
    env.write(dkim__extra={"domain": "example.net",
                           "key_file": env.base / "elsewhere.key"})
    p = env.check()
    assert p.returncode == 78 and "[dkim.extra]" in p.stderr, p.stderr


def test_missing_files_the_configuration_names(env):
    env.write(notifyd={"templates": env.base / "no-such-templates"})
    p = env.check()
    assert p.returncode == 78
    assert f"[notifyd] templates: {env.base}/no-such-templates: no such " \
        "directory" in p.stderr
    env.write(notifyd={"templates": env.templates},
              tokens={"key_file": env.base / "missing.key"})
    p = env.check()
    assert p.returncode == 78
    assert "[tokens] key_file" in p.stderr
    assert f"{env.base}/missing.key: No such file" in p.stderr
    # nginx's keys, loaded as the module loads them
    env.write(tokens={"key_file": None,
                      "web_key_file": env.base / "token-web.key"})
    p = env.check()
    assert p.returncode == 78
    assert f'nginx: [tokens] web_key_file "{env.base}/token-web.key"' in \
        p.stderr
    env.write(tokens=None, store={"path": env.base / "no-core"})
    p = env.check()
    assert p.returncode == 78
    assert f"no core store at {env.base}/no-core" in p.stderr


def test_pam_options(env):
    (env.pamdir / "sshd").write_text(
        "# a comment\n"
        "auth required pam_unix.so\n"
        "session [success=ok default=ignore] pam_gatehouse.so "
        "notify=sometimes\n")
    p = env.check()
    assert p.returncode == 78
    assert f"pam: {env.pamdir}/sshd:3: pam_gatehouse.so:" in p.stderr
    assert "notify" in p.stderr


def test_pam_writer_checked_as_the_module_does(env):
    """The writer program a pam_gatehouse.so line's logins exec: missing,
    a link, or writable by others is a problem (the module's child would
    refuse it and record no login); mode=inline execs none."""
    d = env.base / "libexec"
    d.mkdir()
    os.chmod(env.base, 0o755)
    loose = d / "writer"
    shutil.copy(WRITER, loose)
    os.chmod(loose, 0o775)
    (d / "link").symlink_to(WRITER)
    theirs = env.base / "theirs"
    theirs.mkdir()
    shutil.copy(WRITER, theirs / "writer")
    os.chown(theirs, 65534, 65534)
    lines = [f"writer={d}/missing", f"writer={theirs}/writer",
             f"writer={loose}", f"writer={d}/missing mode=inline",
             f"writer={WRITER}", f"writer={d}/link",
             "writer=relative/writer"]
    (env.pamdir / "sshd").write_text("".join(
        f"session optional pam_gatehouse.so {a}\n" for a in lines))
    p = env.check("--only", "pam")
    assert p.returncode == 78, p.stderr
    err = p.stderr
    assert f"sshd:1: pam_gatehouse.so writer: {d}/missing: No such file" \
        in err
    assert f"sshd:2: pam_gatehouse.so writer: {theirs}: owned by uid " \
        "65534" in err
    assert f"sshd:3: pam_gatehouse.so writer: {loose}: writable by group " \
        "or others (mode 0775)" in err
    # inline execs nothing; a link root made where only root writes is
    # followed; a relative path is the option parser's to refuse
    assert "sshd:4:" not in err and "sshd:5:" not in err
    assert "sshd:6:" not in err
    assert "logins are not recorded" in err


def test_store_of_another_owner(env):
    pw = pwd.getpwnam(USERS["core"])
    for f in [env.base / "web"] + list((env.base / "web").iterdir()):
        os.chown(f, pw.pw_uid, pw.pw_gid)
    p = env.check()
    assert p.returncode == 78
    assert f"{env.base}/web is uid {pw.pw_uid}'s, not {USERS['web']}'s" in \
        p.stderr
    p = env.check("--as-service")
    assert "nginx:" in p.stderr and f"(as {USERS['web']})" in p.stderr


def test_key_only_root_can_read(env):
    """Readable by root, not by [milter] user: the daemon, once it dropped
    to that user, could not load it; -t and --as-service must say so."""
    key = env.key()
    give(key, "root", 0o600)
    m = subprocess.run([str(MILTER), "-t", "-c", str(env.conf)],
                       capture_output=True, text=True, timeout=60)
    assert m.returncode != 0, m.stderr
    assert str(key) in m.stderr
    assert f"(as user {USERS['mail']})" in m.stderr
    # the plain check reads it as root: nothing to see there
    p = env.check()
    assert p.returncode == 0, p.stderr
    p = env.check("--as-service")
    assert p.returncode == 77
    assert f"milter: permission denied: {key} (as {USERS['mail']})" in \
        p.stderr
    assert "ok" not in p.stdout
    j = env.gh("--json", "config", "check", "--as-service", "--pam-dir",
               env.pamdir)
    import json
    out = json.loads(j.stdout)
    assert out["ok"] is False and out["as_service"] is True
    assert {"part": "milter", "permission_denied": True,
            "message": f"permission denied: {key} (as {USERS['mail']})"} in \
        out["problems"]
    # the key directory itself
    give(key, USERS["mail"], 0o640)
    give(env.keydir / "example.org", "root", 0o700)
    p = env.check("--as-service")
    assert p.returncode == 77
    assert f"permission denied: {env.keydir}/example.org " \
        f"(as {USERS['mail']})" in p.stderr
    give(env.keydir / "example.org", "root", 0o755)
    m = subprocess.run([str(MILTER), "-t", "-c", str(env.conf)],
                       capture_output=True, text=True, timeout=60)
    assert m.returncode == 0, m.stderr
    assert env.check("--as-service").returncode == 0


def test_notifyd_secret_only_root_can_read(env):
    secret = env.base / "hook.secret"
    secret.write_text("s3cret\n")
    give(secret, "root", 0o600)
    env.write(channel__hook={"type": "webhook", "url": "http://127.0.0.1:9/",
                             "secret_file": secret})
    n = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert n.returncode != 0
    assert str(secret) in n.stderr and "Permission denied" in n.stderr
    assert f"(as user {USERS['core']})" in n.stderr
    p = env.check("--as-service")
    assert p.returncode == 77
    assert f"notifyd: permission denied: {secret} (as {USERS['core']})" in \
        p.stderr
    give(secret, USERS["core"], 0o640)
    n = subprocess.run([str(NOTIFYD), "-c", str(env.conf), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert n.returncode == 0, n.stderr
    assert env.check("--as-service").returncode == 0


def test_as_service_needs_root(env):
    pw = pwd.getpwnam(USERS["web"])
    p = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}",
                        f"--regid={pw.pw_gid}", "--clear-groups", "--",
                        str(GATEHOUSE), "-c", str(env.conf), "config",
                        "check", "--as-service"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 77 and "only root" in p.stderr


def test_permission_denied_is_not_no_store(env):
    core = env.base / "core"
    os.chmod(core, 0o600)    # its owner cannot look inside
    p = env.gh("store", "info")
    assert p.returncode == 77, p.stderr
    assert "no store" not in p.stderr
    assert f"permission denied: {core}/data.mdb: Permission denied " \
        f"(as user {USERS['core']}" in p.stderr
    os.chmod(core, 0o700)
    os.chmod(core / "data.mdb", 0)
    p = env.gh("store", "info")
    assert p.returncode == 77 and "no store" not in p.stderr
    assert f"{core}/data.mdb: Permission denied (as user " \
        f"{USERS['core']}" in p.stderr
    os.chmod(core / "data.mdb", 0o600)
    # a user who may not enter: permission denied, with who it was
    pw = pwd.getpwnam(USERS["web"])
    p = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}",
                        f"--regid={pw.pw_gid}", "--clear-groups", "--",
                        str(GATEHOUSE), "-c", str(env.conf), "store", "info"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 77 and "no store" not in p.stderr
    assert f"(as user {USERS['web']}" in p.stderr
    # and a store that is not there is just that
    shutil.rmtree(core)
    p = env.gh("store", "info")
    assert p.returncode == 66
    assert f"no store at {core}" in p.stderr and "No such file" in p.stderr


def test_configuration_only_root_can_read(env):
    """Each daemon reads the file again on a reload, as its own user."""
    os.chmod(env.conf, 0o600)
    m = subprocess.run([str(MILTER), "-t", "-c", str(env.conf)],
                       capture_output=True, text=True, timeout=60)
    assert m.returncode != 0
    assert f"{env.conf}: Permission denied" in m.stderr
    p = env.check("--as-service")
    assert p.returncode == 77
    for part, user in (("milter", USERS["mail"]),
                       ("notifyd", USERS["core"]),
                       ("bridge mail", USERS["mail"])):
        assert f"{part}: permission denied: {env.conf} (as {user})" in \
            p.stderr, p.stderr


@pytest.mark.skipif(os.path.exists("/etc/gatehouse/gatehouse.conf"),
                    reason="this host has a configuration file")
def test_no_file_at_the_default_place(tmp_path):
    """The CLI and notifyd start on the defaults; the milter does not
    start at all: the check says so."""
    envv = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONF"}
    p = subprocess.run([str(GATEHOUSE), "config", "check", "--only",
                        "milter"], capture_output=True, text=True,
                       timeout=60, env=envv, cwd=tmp_path)
    assert p.returncode == 78
    assert "milter: /etc/gatehouse/gatehouse.conf: no such file: " \
        "gatehouse-milter does not start without it" in p.stderr
    m = subprocess.run([str(MILTER), "-t"], capture_output=True, text=True,
                       timeout=60, env=envv)
    assert m.returncode != 0


def test_milter_with_clamd_needs_no_signature_directory(env):
    """[milter] clamd_socket: the signatures are clamd's, so a missing
    clamav_db is no problem; without it, it is."""
    env.key()
    give(env.keydir / "example.org" / "s1.key", USERS["mail"], 0o640)
    env.write(milter={"scan": "yes", "clamav_db": env.base / "no-db",
                      "spool_dir": env.base})
    p = env.check()
    assert p.returncode == 78
    assert f"{env.base}/no-db" in p.stderr
    env.write(milter={"clamd_socket": "/run/clamav/clamd.ctl"})
    p = env.check()
    assert p.returncode == 0, p.stderr
