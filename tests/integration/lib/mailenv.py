"""The world of gatehouse-milter's integration tests: a real Postfix on
127.0.0.1 with its own configuration and queue directories, an aiosmtpd
sink that Postfix relays everything to, the milter itself, keys, and DKIM
verification by dkimpy (and Perl's Mail::DKIM for RSA).

Imported by the tests and conftest.py (not a conftest itself, so that it
cannot shadow tests/integration/conftest.py).  Everything is started in a
directory under /tmp with mode 0755 (Postfix's daemons run as user postfix
and must reach their queue directory) and stopped by the fixtures' finally
blocks, whatever the tests did.
"""
import base64
import contextlib
import email
import json
import os
import pathlib
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time

import dkim  # python3-dkim, python3-nacl

from aiosmtpd.controller import Controller  # python3-aiosmtpd

from ghtest import free_port, wait_until  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
GATEHOUSE = BUILD / "gatehouse"
MILTER = pathlib.Path(os.environ.get("GH_MILTER_BIN",
                                     BUILD / "tests" / "gatehouse-milter-asan"))
PERL_VERIFIER = ROOT / "tests" / "integration" / "milter_dkim" / "verify_mail_dkim.pl"
DOMAIN = "example.org"
INBOUND_DOMAIN = "inbound.test"

# ASan: the daemon must not die on exit for a leak (libmilter's threads
# are still running when we return from main), but must abort on a real
# memory error, which the tests then see as a dead milter.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:log_path=%s",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def wait_for(pred, timeout=20.0, what="condition", interval=0.05):
    return wait_until(pred, timeout, what, interval)


# ---------------------------------------------------------------- sink

class Sink:
    """An SMTP server that keeps every message Postfix relays to it."""

    def __init__(self, port):
        self.port = port
        self.messages = []          # (mail_from, rcpt_tos, raw bytes)
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    sink.messages.append((envelope.mail_from,
                                          list(envelope.rcpt_tos),
                                          bytes(envelope.original_content
                                                or envelope.content)))
                return "250 2.0.0 kept"

        self.controller = Controller(Handler(), hostname="127.0.0.1",
                                     port=port, decode_data=False,
                                     data_size_limit=64 * 1024 * 1024)

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait(self, n, timeout=30):
        """Wait until n messages have arrived in total; return the last."""
        wait_for(lambda: self.count() >= n, timeout, f"{n} messages at the sink")
        with self.lock:
            return self.messages[n - 1]

    def find(self, marker, timeout=30):
        """The message whose raw text contains marker (bytes)."""
        def look():
            with self.lock:
                for m in self.messages:
                    if marker in m[2]:
                        return m
            return None
        return wait_for(look, timeout, f"message {marker!r} at the sink")


# ---------------------------------------------------------------- keys

def make_key(path, kind="rsa", bits=2048):
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "rsa":
        cmd = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
               f"rsa_keygen_bits:{bits}", "-out", str(path)]
    else:
        cmd = ["openssl", "genpkey", "-algorithm", "ED25519", "-out", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    os.chmod(path, 0o600)
    return path


def dns_txt(path):
    """The DKIM TXT record of a private key, derived with openssl, not ours."""
    der = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    if len(der) == 44:   # Ed25519 SubjectPublicKeyInfo: 12 + 32 bytes
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


class KeyRing:
    """Public keys the verifiers may look up: selector._domainkey.domain."""

    def __init__(self):
        self.records = {}

    def add(self, selector, domain, keyfile):
        self.records[f"{selector}._domainkey.{domain}."] = dns_txt(keyfile)

    def dnsfunc(self, name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        if not name.endswith("."):
            name += "."
        return self.records.get(name)

    def write_perl_keyfile(self, path):
        path.write_text("".join(f"{n.rstrip('.')}\t{t.decode()}\n"
                                for n, t in self.records.items()))
        return path


def signatures(raw):
    """The parsed tags of each DKIM-Signature of a message, top first."""
    msg = email.message_from_bytes(raw)
    out = []
    for v in msg.get_all("DKIM-Signature") or []:
        tags = {}
        for part in "".join(v.split()).split(";"):
            if "=" in part:
                k, val = part.split("=", 1)
                tags[k] = val
        out.append(tags)
    return out


def verify_all(raw, keys):
    """dkimpy's verdict for each signature, top first."""
    n = len(signatures(raw))
    out = []
    for i in range(n):
        try:
            out.append(bool(dkim.DKIM(raw).verify(idx=i,
                                                   dnsfunc=keys.dnsfunc)))
        except dkim.DKIMException:
            out.append(False)
    return out


def verify_perl(paths, keys, tmp):
    """Mail::DKIM's verdicts: {(path, index): result}."""
    keyfile = keys.write_perl_keyfile(tmp / "perl-keys.txt")
    p = subprocess.run(["perl", str(PERL_VERIFIER), str(keyfile)] +
                       [str(x) for x in paths], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        path, idx, result, *_ = line.split("\t")
        out[(path, idx)] = result
    return out


# ---------------------------------------------------------------- postfix

MASTER_CF = """\
{smtp_addr} inet n - n - - smtpd
{smtp_unix_addr} inet n - n - - smtpd
  -o smtpd_milters=unix:{milter_sock}
  -o non_smtpd_milters=unix:{milter_sock}
{smtp_plain_addr} inet n - n - - smtpd
  -o smtpd_milters=
{smtp_queue_addr} inet n - n - - smtpd
  -o smtpd_milters=unix:{queue_sock}
{smtp_chroot_addr} inet n - y - - smtpd
  -o smtpd_milters=unix:{queue_sock}
{smtp_typo_addr} inet n - n - - smtpd
  -o {{ smtpd_milters = {{ unix:gatehouse/typo.sock, default_action=accept }} }}
{smtp_many_addr} inet n - n - - smtpd
  -o smtpd_recipient_limit=5000
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydomain = test.example
myorigin = $mydomain
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = {inbound}
default_transport = smtp:[127.0.0.1]:{sink_port}
relay_transport = smtp:[127.0.0.1]:{sink_port}
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_milters = inet:127.0.0.1:{milter_port}
non_smtpd_milters = inet:127.0.0.1:{milter_port}
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 20s
milter_content_timeout = 60s
alias_maps =
alias_database =
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
message_size_limit = 0
smtputf8_enable = yes
default_destination_concurrency_limit = 20
"""


def _proc_state(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.lower()
    except OSError:
        return "gone"
    return ""


class Postfix:
    def __init__(self, base, sink_port, milter_port, milter_sock):
        self.dir = base / "postfix"
        self.etc = self.dir / "etc"
        self.port = free_port()          # smtpd with the inet milter
        self.unix_port = free_port()     # smtpd with the unix-socket milter
        self.plain_port = free_port()    # smtpd without a milter
        self.many_port = free_port()     # smtpd_recipient_limit raised
        # The packaged socket, named as main.cf names it: relative to the
        # queue directory, which is where Postfix's daemons run, chrooted
        # (chroot "y", as Debian ships smtpd) or not.
        self.queue_sock_name = "gatehouse/milter.sock"
        self.queue_sock = self.dir / "queue" / self.queue_sock_name
        self.queue_port = free_port()    # smtpd, that socket, no chroot
        self.chroot_port = free_port()   # smtpd, that socket, chrooted
        # smtpd with a mistyped socket, whose own default_action is accept
        self.typo_port = free_port()
        self.sink_port = sink_port
        self.milter_port = milter_port
        self.milter_sock = milter_sock
        self.started = False

    def setup(self):
        for d in ("etc", "queue", "data"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir / "data", "postfix")
        (self.etc / "main.cf").write_text(MAIN_CF.format(
            dir=self.dir, inbound=INBOUND_DOMAIN, sink_port=self.sink_port,
            milter_port=self.milter_port))
        (self.etc / "master.cf").write_text(MASTER_CF.format(
            smtp_addr=f"127.0.0.1:{self.port}",
            smtp_unix_addr=f"127.0.0.1:{self.unix_port}",
            smtp_plain_addr=f"127.0.0.1:{self.plain_port}",
            smtp_many_addr=f"127.0.0.1:{self.many_port}",
            smtp_queue_addr=f"127.0.0.1:{self.queue_port}",
            smtp_chroot_addr=f"127.0.0.1:{self.chroot_port}",
            smtp_typo_addr=f"127.0.0.1:{self.typo_port}",
            queue_sock=self.queue_sock_name,
            milter_sock=self.milter_sock))

    def postfix(self, *args, check=True):
        return subprocess.run(["postfix", "-c", str(self.etc)] + list(args),
                              capture_output=True, text=True, timeout=60,
                              check=check)

    def start(self):
        self.setup()
        p = self.postfix("start", check=False)
        if p.returncode != 0:
            raise AssertionError(f"postfix start failed: {p.stderr}\n"
                                 f"{self.log()}")
        self.started = True
        wait_for(lambda: self._listening(self.port), 20, "postfix smtpd")

    def _listening(self, port):
        with contextlib.suppress(OSError), \
                socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.recv(100)
            return True
        return False

    def stop(self):
        if self.started:
            pid = None
            with contextlib.suppress(Exception):
                pid = int((self.dir / "queue" / "pid" / "master.pid").read_text())
            self.postfix("stop", check=False)
            self.started = False
            # "postfix stop" returns before master has reaped its children
            if pid:
                with contextlib.suppress(Exception):
                    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                             "zombie" in _proc_state(pid), 10,
                             "postfix master to exit")

    def reload(self):
        self.postfix("reload")

    def log(self):
        try:
            return (self.dir / "maillog").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def sendmail(self, sender, rcpts, raw, check=True):
        """Submit through sendmail(1): pickup -> cleanup -> non_smtpd_milters."""
        env = dict(os.environ, MAIL_CONFIG=str(self.etc))
        p = subprocess.run(["/usr/sbin/sendmail", "-C", str(self.etc), "-i",
                            "-f", sender] + list(rcpts), input=raw,
                           capture_output=True, env=env, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def queued(self, queue_id):
        """True while queue_id is still in Postfix's queue."""
        p = subprocess.run(["postqueue", "-c", str(self.etc), "-j"],
                           capture_output=True, text=True, timeout=30)
        return any(json.loads(line).get("queue_id") == queue_id
                   for line in p.stdout.splitlines() if line.strip())

    def queue_ids_empty(self):
        p = subprocess.run(["postqueue", "-c", str(self.etc), "-j"],
                           capture_output=True, text=True, timeout=30)
        return p.stdout.strip() == ""


def smtp(port, xclient=None):
    """An SMTP session; xclient: dict of XCLIENT attributes (ADDR, LOGIN)."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.ehlo("client.test")
    if xclient:
        code, msg = s.docmd("XCLIENT", " ".join(f"{k}={v}"
                                                for k, v in xclient.items()))
        assert code == 220, (code, msg)
        s.ehlo("client.test")
    return s


def send(port, sender, rcpts, raw, xclient=None):
    """Send one message; return smtplib's refusal dict ({} on success) or
    raise smtplib's exception for a refused message."""
    with contextlib.closing(smtp(port, xclient)) as s:
        r = s.sendmail(sender, rcpts, raw)
        with contextlib.suppress(smtplib.SMTPException):
            s.quit()
        return r


def message(headers, body=b"Hello.\r\n", eol=b"\r\n"):
    if isinstance(headers, dict):
        headers = [f"{k}: {v}".encode() for k, v in headers.items()]
    return eol.join(h.replace(b"\n", eol) for h in headers) + eol + eol + body


def simple_message(subject, frm=f"Joe <joe@{DOMAIN}>", to="bob@example.net",
                   extra=(), body=b"Hello.\r\n"):
    hdrs = [f"From: {frm}".encode(), f"To: {to}".encode(),
            f"Subject: {subject}".encode(),
            f"Message-ID: <{subject.replace(' ', '.')}@{DOMAIN}>".encode(),
            b"Date: Mon, 01 Jan 2024 10:00:00 +0000"]
    hdrs += [h.encode() if isinstance(h, str) else h for h in extra]
    return message(hdrs, body)


# ---------------------------------------------------------------- milter

class Milter:
    """gatehouse-milter in the foreground, with a configuration of its own."""

    def __init__(self, base, port, sock):
        self.base = base
        self.port = port
        self.sock = sock
        self.conf = base / "gatehouse.conf"
        self.store = base / "store"
        self.keydir = base / "dkim"
        self.pidfile = base / "milter.pid"
        self.logfile = base / "milter.log"
        self.asan_log = base / "asan"
        self.proc = None
        self.log_fp = None
        self.keys = KeyRing()
        self.wrap = []      # a command the milter is started through

    def write_conf(self, milter=None, dkim=None, extra="", socket=None,
                   store=None, lock_timeout="2s"):
        m = {"socket": socket or f"inet:{self.port}@127.0.0.1",
             "pid_file": str(self.pidfile), "user": "",
             "socket_mode": "0660", "socket_group": "postfix",
             "drain_timeout": "20s"}
        m.update(milter or {})
        d = {"key_dir": str(self.keydir)}
        d.update(dkim or {})
        text = (f"[store]\npath = {store or self.store}\nsync = no\n"
                f"lock_timeout = {lock_timeout}\n\n[milter]\n")
        text += "".join(f"{k} = {v}\n" for k, v in m.items())
        text += "\n[dkim]\n" + "".join(f"{k} = {v}\n" for k, v in d.items())
        text += "\n" + extra
        self.conf.write_text(text)

    def gh(self, *args, check=True):
        p = subprocess.run([str(GATEHOUSE), "-c", str(self.conf)] +
                           [str(a) for a in args], capture_output=True,
                           text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"gatehouse {args}: {p.returncode} {p.stderr}")
        return p

    def init_store(self):
        self.gh("store", "init")

    def add_key(self, selector, kind="rsa", domain=DOMAIN, bits=2048):
        path = make_key(self.keydir / domain / f"{selector}.key", kind, bits)
        self.keys.add(selector, domain, path)
        return path

    def env(self):
        e = dict(os.environ)
        e["ASAN_OPTIONS"] = SAN_ENV["ASAN_OPTIONS"] % self.asan_log
        e["UBSAN_OPTIONS"] = SAN_ENV["UBSAN_OPTIONS"]
        return e

    def start(self, wait=True):
        assert self.proc is None
        # the line that ends start-up ("listening on SOCKET, pid N"), not
        # the TCP-socket warning that also says "listening on" and comes
        # before the socket listens
        ready = "info: listening on"
        seen = self.log().count(ready)
        self.log_fp = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.wrap +
                                     [str(MILTER), "-f", "-c", str(self.conf)],
                                     stdout=self.log_fp, stderr=subprocess.STDOUT,
                                     env=self.env())
        if wait:
            wait_for(lambda: self.log().count(ready) > seen or
                     self.proc.poll() is not None, 30, "milter to listen")
            assert self.proc.poll() is None, self.log()

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def asan_reports(self):
        return [p.read_text(errors="replace")
                for p in self.base.glob("asan*") if p.is_file()]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP, then wait for the reload's log line."""
        before = self.log().count("reloaded:") + self.log().count("reload failed")
        self.signal(signal.SIGHUP)
        wait_for(lambda: self.log().count("reloaded:") +
                 self.log().count("reload failed") > before, 30, "reload")
        return "reload failed" not in self.log().split("SIGHUP")[-1]

    def stop(self, timeout=40):
        """SIGTERM and wait; return the exit status."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        self.proc = None
        if self.log_fp:
            self.log_fp.close()
            self.log_fp = None
        return rc

    def mail_log(self, *args):
        p = self.gh("--json", "mail", "log", "--limit", "0", *args)
        return json.loads(p.stdout)

    def last_record(self):
        recs = self.mail_log()
        assert recs, "mail log is empty"
        return recs[0]

    def record_for(self, subject, timeout=20):
        def look():
            for r in self.mail_log():
                if r.get("subject") == subject:
                    return r
            return None
        return wait_for(look, timeout, f"mail log record for {subject!r}")


class World:
    """One Postfix + sink for a whole test session; milters come and go."""

    def __init__(self, base):
        self.base = base
        self.sink = Sink(free_port())
        self.milter_port = free_port()
        self.milter_sock = base / "milter.sock"
        self.postfix = Postfix(base, self.sink.port, self.milter_port,
                               self.milter_sock)

    def start(self):
        self.sink.start()
        self.postfix.start()

    def stop(self):
        try:
            self.postfix.stop()
        finally:
            self.sink.stop()
