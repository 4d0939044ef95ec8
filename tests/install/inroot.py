"""The install test's checks, run chrooted in a root where our packages
were just installed with apt, as the first process of private PID, mount,
network and UTS namespaces (tests/install/nsinit.sh): no systemd, so each
daemon is started from its unit file by unitrun.py, as systemd would.

    inroot.py postfix|sendmail

The admin steps are the ones the installed documentation gives (the
examples in /usr/share/doc/*/examples, README, docs/security.md); each
check is recorded in /gh-test/results.json, the logs go to /gh-test/logs/.
Run by tests/install/run, never by hand on a real system.
"""

import contextlib
import email
import email.utils
import glob
import gzip
import http.server
import json
import mailbox
import os
import pathlib
import re
import shlex
import smtplib
import socket
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, "/gh-test")
import unitrun  # noqa: E402

T = pathlib.Path("/gh-test")
LOGS = T / "logs"
DOMAIN = "example.org"
TESTER = "tester"
PASSWORD = "Correct-Horse-42"
HTTP_PORT = 8000       # the sample site's backend: /auth, and our webhook
NGINX_PORT = 8080
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
         b"FILE!$H+H*")
PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n"
       b"<< /Root 1 0 R >>\n%%EOF\n")
OURS = ["gatehouse", "gatehouse-milter", "libnginx-mod-http-gatehouse",
        "libpam-gatehouse"]

results = []
units = {}


class Fail(Exception):
    pass


@contextlib.contextmanager
def check(name):
    """One line of the summary: ok, or FAILED with the reason."""
    t0 = time.time()
    rec = {"name": name, "ok": True, "reason": ""}
    log(f"### {name}")
    try:
        yield rec
    except (Fail, unitrun.UnitError, AssertionError) as e:
        rec.update(ok=False, reason=str(e) or type(e).__name__)
    except Exception as e:  # a bug of the test itself still reports
        rec.update(ok=False, reason=f"{type(e).__name__}: {e}")
        log(traceback.format_exc())
    rec["secs"] = round(time.time() - t0, 1)
    log(f"### {name}: {'ok' if rec['ok'] else 'FAILED: ' + rec['reason']}")
    results.append(rec)
    save()


def save():
    (T / "results.json").write_text(json.dumps(results, indent=1))


def log(text):
    with open(LOGS / "steps.log", "a") as f:
        f.write(f"{time.strftime('%H:%M:%S')} {text}\n")


def sh(cmd, check=True, input=None, timeout=120, env=None):
    """Run a command (a list, or a string for sh -c), log it and its
    output; Fail with the output's end if it fails and check is set."""
    shell = isinstance(cmd, str)
    shown = cmd if shell else " ".join(shlex.quote(c) for c in cmd)
    if isinstance(input, str):
        input = input.encode()
    try:
        r = subprocess.run(cmd, shell=shell, input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        log(f"$ {shown}\n  (timed out after {timeout}s)")
        raise Fail(f"`{shown}` timed out after {timeout}s")
    out = r.stdout.decode(errors="replace")
    log(f"$ {shown}\n" + "".join(f"  {ln}\n" for ln in out.splitlines())
        + f"  (exit {r.returncode})")
    if check and r.returncode != 0:
        tail = " | ".join(out.strip().splitlines()[-3:])
        raise Fail(f"`{shown}` exited {r.returncode}: {tail}")
    return out


def wait_for(cond, what, timeout=30, step=0.2):
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            raise Fail(f"{what}: not within {timeout}s")
        time.sleep(step)


# ---- pid 1, syslog, the HTTP side ----

def reap_as_init():
    """As PID 1 of the namespace, orphans (double-forked daemons) become
    ours: run the test in a child and reap everything until it ends."""
    if os.getpid() != 1:
        return
    child = os.fork()
    if child == 0:
        return
    status = 1
    while True:
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        if pid == child:
            status = os.waitstatus_to_exitcode(st)
            break
    os._exit(status if status >= 0 else 1)


def syslog_listener(paths):
    """What daemons send to syslog (no syslogd here): /dev/log and
    Postfix's chrooted copy of it, into logs/syslog.log."""
    socks = []
    for p in paths:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(p)
        os.chmod(p, 0o666)
        socks.append(s)

    def loop():
        import select
        with open(LOGS / "syslog.log", "ab", buffering=0) as f:
            while True:
                r, _, _ = select.select(socks, [], [])
                for s in r:
                    f.write(s.recv(65536).rstrip(b"\n\0") + b"\n")
    threading.Thread(target=loop, daemon=True).start()


class Receiver:
    """127.0.0.1:8000: the sample site's backend (/auth answers who the
    uploader is, like the sample's auth_request backend) and the
    webhook receiver notifyd delivers to (/hooks/gatehouse)."""

    def __init__(self):
        self.hooks = []
        recv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                if self.path.startswith("/auth"):
                    self.send_header("X-User", TESTER)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/hooks/"):
                    recv.hooks.append(body)
                    with open(LOGS / "webhooks.log", "ab") as f:
                        f.write(body + b"\n")
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def events(self):
        out = []
        for b in list(self.hooks):
            try:
                out.append(json.loads(b))
            except ValueError:
                pass
        return out

    def find(self, type_, user=None):
        for e in self.events():
            flat = json.dumps(e)
            if f'"{type_}"' in flat and (user is None or f'"{user}"' in flat):
                return e
        return None


# ---- configuration helpers ----

def doc_example(pkg, name):
    for p in (f"/usr/share/doc/{pkg}/examples/{name}",
              f"/usr/share/doc/{pkg}/examples/{name}.gz"):
        if os.path.exists(p):
            data = open(p, "rb").read()
            return (gzip.decompress(data) if p.endswith(".gz") else data).decode()
    raise Fail(f"{pkg} ships no examples/{name}")


def conf_set(section, key, value, path="/etc/gatehouse/gatehouse.conf"):
    """Set KEY in [SECTION] of an INI file: the active line replaced, or
    one added at the section's end (the section added if missing)."""
    lines = open(path).read().split("\n")
    cur, at, last = None, None, None
    for i, ln in enumerate(lines):
        m = re.match(r"\s*\[([^\]]+)\]", ln)
        if m:
            cur = m.group(1).strip()
            continue
        if cur == section:
            last = i
            if re.match(rf"\s*{re.escape(key)}\s*=", ln):
                at = i
    if at is not None:
        lines[at] = f"{key} = {value}"
    elif last is not None:
        lines.insert(last + 1, f"{key} = {value}")
    else:
        lines += [f"[{section}]", f"{key} = {value}", ""]
    open(path, "w").write("\n".join(lines))
    log(f"gatehouse.conf: [{section}] {key} = {value}")


def conf_get(section, key, path="/etc/gatehouse/gatehouse.conf"):
    cur, val = None, None
    for ln in open(path).read().split("\n"):
        m = re.match(r"\s*\[([^\]]+)\]", ln)
        if m:
            cur = m.group(1).strip()
        elif cur == section:
            m = re.match(rf"\s*{re.escape(key)}\s*=\s*(.*?)\s*$", ln)
            if m:
                val = m.group(1)
    return val


def boot():
    """What a boot does before services start: tmpfiles (/run is empty)."""
    sh("systemd-tmpfiles --create --boot --exclude-prefix=/dev "
       "--exclude-prefix=/proc --exclude-prefix=/sys", check=False)


def start(name, timeout=30):
    u = unitrun.Unit(name, str(LOGS))
    units[name] = u
    if u.ignored:
        log(f"{name}: directives not emulated: {' '.join(u.ignored)}")
    u.start(timeout=timeout)
    return u


def wanted_bridges():
    """The bridges gatehouse-notifyd.service's drop-ins pull in (Wants=),
    as the installed packages put them."""
    u = unitrun.Unit("gatehouse-notifyd.service", str(LOGS))
    wants = " ".join(u.conf.get("Unit", {}).get("Wants", "").split())
    found = []
    for f in u.files:
        for line in open(f):
            m = re.match(r"\s*Wants\s*=\s*(.*)", line)
            if m:
                found += m.group(1).split()
    return sorted({w for w in found + wants.split()
                   if w.startswith("gatehouse-bridge@")})


def admin_keys():
    """DKIM keys as the README says (an Ed25519 key, and an RSA one so the
    mail carries both signatures), and the TXT records to publish, from
    `gatehouse dns records` (zone-file form, as an admin would paste)."""
    sh(["gatehouse", "dkim", "keygen", "--domain", DOMAIN, "--selector",
        "s2026", "--type", "ed25519"])
    sh(["gatehouse", "dkim", "keygen", "--domain", DOMAIN, "--selector",
        "r2026", "--type", "rsa"])
    out = sh(["gatehouse", "dns", "records", DOMAIN])
    recs = {}
    for m in re.finditer(r'^(\S+)\s+IN\s+TXT\s+\(((?:\s*"[^"]*")+)\s*\)', out, re.M):
        recs[m.group(1).lower()] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    dk = {k: v for k, v in recs.items() if "._domainkey." in k}
    if len(dk) < 2:
        raise Fail(f"`gatehouse dns records {DOMAIN}` printed {len(dk)} DKIM "
                   "records, expected 2")
    return dk


def dkim_verdicts(raw, records):
    import dkim

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        name = name.lower() if name.endswith(".") else name.lower() + "."
        v = records.get(name)
        return v.encode() if v else None
    msg = email.message_from_bytes(raw)
    sigs = msg.get_all("DKIM-Signature") or []
    out = []
    for i, s in enumerate(sigs):
        algo = re.search(r"a=\s*([\w-]+)", s)
        try:
            ok = bool(dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsfunc))
        except Exception as e:
            log(f"dkimpy on signature {i}: {e}")
            ok = False
        out.append((algo.group(1) if algo else "?", ok))
    return out


def mbox_find(user, match, what, timeout=20):
    """The raw bytes of the first message in /var/mail/USER for which
    match(raw) is true, once it is there."""
    path = f"/var/mail/{user}"

    def look():
        if not os.path.exists(path):
            return None
        box = mailbox.mbox(path, create=False)
        try:
            for k in box.keys():
                raw = box.get_bytes(k)
                if match(raw):
                    return raw
        finally:
            box.close()
        return None
    return wait_for(look, f"{what} in {path}", timeout)


def mbox_message(user, token, timeout=20):
    """The message with TOKEN in its header."""
    return mbox_find(user, lambda raw: token.encode() in raw.split(b"\n\n", 1)[0],
                     f"the message '{token}'", timeout)


def expect_signed(raw, records, how):
    v = dkim_verdicts(raw, records)
    if not v:
        hdr = raw.split(b"\n\n", 1)[0].decode(errors="replace")
        raise Fail(f"{how}: delivered without a DKIM-Signature; headers: "
                   + " | ".join(hdr.splitlines()[:12]))
    bad = [a for a, ok in v if not ok]
    if bad:
        raise Fail(f"{how}: dkimpy fails the {', '.join(bad)} signature(s)")
    algos = sorted(a for a, _ in v)
    if algos != ["ed25519-sha256", "rsa-sha256"]:
        raise Fail(f"{how}: signatures {algos}, expected ed25519-sha256 "
                   "and rsa-sha256 (both keys)")
    return algos


def message(token, sender, rcpt):
    return (f"From: Alice <{sender}>\r\nTo: {rcpt}\r\n"
            f"Subject: install test {token}\r\n"
            f"Date: {email.utils.formatdate()}\r\n"
            f"Message-ID: <{token}@{DOMAIN}>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\nHello from the install test ({token}).\r\n").encode()


def mail_checks(mta, records):
    # The sender is of the signing domain; the recipient a local user, by
    # the host's canonical name (Sendmail rewrites header addresses it
    # canonicalizes, like user@localhost, after the milter signed).
    sender, rcpt = f"alice@{DOMAIN}", f"{TESTER}@mail.{DOMAIN}"
    tokens = []
    with check(f"{mta}: mail submitted by SMTP to 127.0.0.1:25 is delivered "
               "signed (Ed25519 + RSA, dkimpy verifies)") as r:
        token = f"smtp-{os.getpid()}-{int(time.time())}"
        tokens.append(token)
        with smtplib.SMTP("127.0.0.1", 25, timeout=60) as s:
            s.sendmail(sender, [rcpt], message(token, sender, rcpt))
        r["reason"] = ", ".join(expect_signed(mbox_message(TESTER, token),
                                              records, "SMTP"))
    with check(f"{mta}: mail submitted with /usr/sbin/sendmail is delivered "
               "signed (dkimpy verifies)") as r:
        token = f"sendmail-{os.getpid()}-{int(time.time())}"
        tokens.append(token)
        sh(["/usr/sbin/sendmail", "-t", "-i", "-f", sender],
           input=message(token, sender, rcpt).replace(b"\r\n", b"\n"))
        r["reason"] = ", ".join(expect_signed(mbox_message(TESTER, token),
                                              records, "sendmail(1)"))
    with check(f"{mta}: `gatehouse --domain mail mail log` has both, signed"):
        out = sh(["gatehouse", "--json", "--domain", "mail", "mail", "log"])
        try:
            recs = json.loads(out)
        except ValueError:
            raise Fail("not JSON: " + out[:200])
        for t in tokens:
            rec = [x for x in recs if t in (x.get("message_id") or "")]
            if not rec:
                raise Fail(f"no record of <{t}@{DOMAIN}>")
            if len(rec[0].get("signatures") or []) != 2:
                raise Fail(f"<{t}@{DOMAIN}>: signatures "
                           f"{rec[0].get('signatures')}")


def add_tester():
    sh(["useradd", "--create-home", "--shell", "/bin/bash", TESTER])
    sh(["chpasswd"], input=f"{TESTER}:{PASSWORD}\n")


# ---- the Postfix root ----

def postfix_root():
    receiver = Receiver()
    with check("postfix: admin steps (users, DKIM keys, main.cf from the "
               "installed postfix-main.cf.sample, a webhook channel)"):
        boot()
        add_tester()
        records = admin_keys()
        # main.cf: the README's command, as written, from the installed
        # README; the installed sample must agree with it.
        readme = gzip.decompress(open("/usr/share/doc/gatehouse/README.md.gz",
                                      "rb").read()).decode()
        m = re.search(r"^ +(postconf -e (?:.*\\\n)*.*)$", readme, re.M)
        if not m:
            raise Fail("the installed README has no postconf -e command")
        cmd = re.sub(r"\\\n\s*", " ", m.group(1))
        sh(cmd)
        sample = doc_example("gatehouse-milter", "postfix-main.cf.sample")
        for ln in sample.splitlines():
            mm = re.match(r"^([a-z_]+)\s*=\s*(.*?)\s*$", ln)
            if mm and mm.group(1) in cmd:
                have = sh(["postconf", "-h", mm.group(1)]).strip()
                if have != mm.group(2):
                    raise Fail(f"README sets {mm.group(1)} = {have}, "
                               f"postfix-main.cf.sample {mm.group(2)}")
        sh(["postconf", "-n"])
        # Where upload and mail events go: a webhook on this host.  Login
        # alerts keep the default: a user without contacts gets them in the
        # local mailbox, root's go to admin_addresses (README).
        conf_set("channel.hook", "type", "webhook")
        conf_set("channel.hook", "url",
                 f"http://127.0.0.1:{HTTP_PORT}/hooks/gatehouse")
        conf_set("route.installtest", "types", "upload.* mail.*")
        conf_set("route.installtest", "channels", "hook")
        sh(["gatehouse", "config", "check"], check=False)

    core_units()
    milter_and_mta("postfix", ["postfix@-.service"])
    mail_checks("postfix", records)
    nginx_checks(receiver)
    pam_checks(receiver)
    log_check()
    purge_checks(OURS, ADMIN_FILE)


def core_units():
    with check("gatehouse-notifyd starts from its unit (Type=notify, READY=1)"):
        start("gatehouse-notifyd.service")
    bridges = wanted_bridges()
    with check("gatehouse-notifyd.service's drop-ins want a bridge per "
               "installed domain") as r:
        r["reason"] = " ".join(bridges)
        expect = {"gatehouse-bridge@mail.service"}
        if os.path.exists("/usr/lib/nginx/modules/ngx_http_gatehouse_module.so"):
            expect.add("gatehouse-bridge@web.service")
        if glob.glob("/lib/*/security/pam_gatehouse.so"):
            expect.add("gatehouse-bridge@login.service")
        if set(bridges) != expect:
            raise Fail(f"wants {bridges}, expected {sorted(expect)}")
    for b in bridges:
        with check(f"{b.rsplit('.', 1)[0]} starts from gatehouse-bridge@.service"):
            start(b)
            time.sleep(0.5)
            if not units[b].alive():
                raise Fail("exited after start" + units[b].tail())
    remove_ipc_check(bridges)


def remove_ipc_check(bridges):
    """RemoveIPC=yes removes every IPC object of the unit's user when the
    unit stops: harmless for Gatehouse's own users, a loss for anyone
    else's (www-data's PHP-FPM shared memory, ...).  Each installed unit
    and bridge instance, as its unit file and drop-ins make it."""
    with check("units running as a user Gatehouse does not own have "
               "RemoveIPC=no (the web bridge as www-data)") as r:
        ours = {"root"}
        for ln in open("/usr/lib/sysusers.d/gatehouse.conf"):
            f = ln.split()
            if len(f) >= 2 and f[0] == "u":
                ours.add(f[1])
        names = sorted(os.path.basename(p) for p in
                       glob.glob("/lib/systemd/system/gatehouse*.service")
                       if "@" not in os.path.basename(p)) + bridges
        seen, bad = [], []
        for n in names:
            u = unitrun.Unit(n, str(LOGS))
            user = u.user or "root"
            if user in ours:
                continue
            v = u.svc.get("RemoveIPC", "no").lower()
            seen.append(f"{n} as {user}: RemoveIPC={v}")
            if v in ("yes", "true", "on", "1"):
                bad.append(f"{n} (as {user}, RemoveIPC={v}, from "
                           + " ".join(u.files) + ")")
        r["reason"] = "; ".join(seen)
        if bad:
            raise Fail("; ".join(bad))
        if "gatehouse-bridge@web.service" in bridges and \
           not any(x.startswith("gatehouse-bridge@web.service") for x in seen):
            raise Fail("the web bridge does not run as www-data: " + "; ".join(seen))


def milter_and_mta(mta, mta_units):
    # The unit that runs the MTA's daemon here (Debian's Postfix: the
    # instance postfix@-.service; Sendmail's init script: sendmail.service).
    names = [os.path.basename(n) + ".service" if n.startswith("/") else n
             for n in mta_units]
    with check(f"{mta}: gatehouse-milter.service starts Before= "
               + " ".join(names)) as r:
        u = unitrun.Unit("gatehouse-milter.service", str(LOGS))
        before = " ".join(u.conf.get("Unit", {}).get("Before", "").split()).split()
        r["reason"] = "Before=" + " ".join(before)
        missing = [n for n in names if n not in before]
        if missing:
            raise Fail(f"Before= {' '.join(before)} lacks {' '.join(missing)}")
    with check(f"{mta}: gatehouse-milter -t passes, then it starts from its unit"):
        sh(["gatehouse-milter", "-t"])  # the README's step before the start
        start("gatehouse-milter.service")
        sock = conf_get("milter", "socket") or ""
        path = sock.split(":", 1)[1] if sock.startswith(("unix:", "local:")) else None
        if path:
            wait_for(lambda: os.path.exists(path), f"the milter socket {path}", 10)
            st = os.stat(path)
            log(f"milter socket {path}: mode {oct(st.st_mode)} uid {st.st_uid} "
                f"gid {st.st_gid}")
    for name in mta_units:
        with check(f"{mta}: {name} starts"):
            if name.startswith("/"):
                sh([name, "start"], timeout=90)
            else:
                start(name, timeout=90)


def nginx_checks(receiver):
    sample_name = "nginx-gatehouse.conf.sample"
    with check("nginx: the package enabled its module "
               "(modules-enabled/50-mod-http-gatehouse.conf)"):
        link = "/etc/nginx/modules-enabled/50-mod-http-gatehouse.conf"
        if not os.path.exists(link):
            raise Fail(f"no {link}: "
                       + " ".join(os.listdir("/etc/nginx/modules-enabled")))
    with check("nginx: a site from the shipped example starts "
               "(nginx.service, nginx -t)"):
        site = doc_example("libnginx-mod-http-gatehouse", sample_name)
        # The sample's own adaptations: plain HTTP on a test port.
        site = re.sub(r"listen\s+443[^;]*;", f"listen 127.0.0.1:{NGINX_PORT};", site)
        # Its main-context lines, which it says go in nginx.conf.
        main = "\n".join(m.group(1) for m in
                         re.finditer(r"^#\s+(thread_pool\s+gatehouse[^\n]*;)",
                                     site, re.M))
        if not main:
            raise Fail(f"{sample_name} names no thread_pool for nginx.conf")
        nc = open("/etc/nginx/nginx.conf").read()
        nc = re.sub(r"^(events\s*\{)", main + "\n\n\\1", nc, count=1, flags=re.M)
        open("/etc/nginx/nginx.conf", "w").write(nc)
        open("/etc/nginx/sites-available/gatehouse", "w").write(site)
        os.symlink("/etc/nginx/sites-available/gatehouse",
                   "/etc/nginx/sites-enabled/gatehouse")
        # What the example's paths need: the upload directory, the
        # worker's (docs/nginx.md "Keeping files private"), and ClamAV's
        # database, here a test one for EICAR (freshclam's job otherwise).
        for d, mode in (("/srv/uploads", 0o750), ("/srv/uploads/.quarantine", 0o700)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
            sh(["chown", "www-data:www-data", d])
        os.makedirs("/var/lib/clamav", exist_ok=True)
        open("/var/lib/clamav/gatehouse-test.ndb", "w").write(
            f"Gatehouse.Test.EICAR:0:*:{EICAR.hex()}\n")
        start("nginx.service", timeout=60)

    with check("nginx: gatehouse-nginx-reload.service's ExecCondition= lets "
               "the reload through for gatehouse_clamav_db PATH only (not "
               "clamd:, not without the directive)"):
        reload_condition_check()

    def upload(name, data):
        b = "gh-install-test-boundary"
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"f\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream"
                f"\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
        s = socket.create_connection(("127.0.0.1", NGINX_PORT), timeout=60)
        s.sendall((f"POST /upload HTTP/1.1\r\nHost: files.example.org\r\n"
                   f"Content-Type: multipart/form-data; boundary={b}\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                   ).encode() + body)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        s.close()
        head, _, rbody = resp.partition(b"\r\n\r\n")
        status = int(head.split()[1]) if head else 0
        log(f"upload {name}: {status} {rbody[:300]!r}")
        return status, rbody

    with check("nginx: a clean upload is accepted (201) and stored"):
        status, body = upload("report.pdf", PDF)
        if status != 201:
            raise Fail(f"{status}: {body[:200]!r}")
        stored = [p for p in glob.glob("/srv/uploads/**/*", recursive=True)
                  if os.path.isfile(p) and "/." not in p]
        if not any(open(p, "rb").read() == PDF for p in stored):
            raise Fail("201, but the file is not under /srv/uploads")
    with check("nginx: EICAR (in a zip) is refused (422) and quarantined"):
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("docs/readme.txt", "hello\n")
            z.writestr("docs/eicar.com", EICAR)
        zipped = buf.getvalue()
        status, body = upload("docs.zip", zipped)
        if status != 422:
            raise Fail(f"{status}: {body[:200]!r}")
        q = [p for p in glob.glob("/srv/uploads/.quarantine/**/*", recursive=True)
             if os.path.isfile(p)]
        if not any(open(p, "rb").read() == zipped for p in q):
            raise Fail("422, but nothing in /srv/uploads/.quarantine")
    with check("notifyd delivers nginx's upload.infected event (web bridge) "
               "to the webhook"):
        wait_for(lambda: receiver.find("upload.infected"),
                 "upload.infected at the webhook", 30)


def reload_condition_check():
    """The installed unit's ExecCondition= (nginx -T as root) on the
    sample site as installed (a path: reload), then with clamd: and with
    no gatehouse_clamav_db (no reload); nginx -t must accept each, so the
    answer is the condition's, not a broken configuration's."""
    u = unitrun.Unit("gatehouse-nginx-reload.service", str(LOGS))
    if not u.svc.get("ExecCondition"):
        raise Fail("the unit has no ExecCondition=")
    site = "/etc/nginx/sites-available/gatehouse"
    orig = open(site).read()
    rx = re.compile(r"^(\s*gatehouse_clamav_db\s+)[^;]*;", re.M)
    if not rx.search(orig):
        raise Fail("the sample site has no gatehouse_clamav_db")
    cases = [("the sample's path", orig, True),
             ("clamd:", rx.sub(r"\1clamd:/run/clamav/clamd.ctl;", orig), False),
             ("no gatehouse_clamav_db", rx.sub("", orig), False)]
    try:
        for what, text, want in cases:
            open(site, "w").write(text)
            sh(["nginx", "-t"])
            got = u.condition()
            log(f"ExecCondition with {what}: {'go on' if got else 'skip'}")
            if got != want:
                raise Fail(f"with {what} the condition says "
                           f"{'reload' if got else 'skip'}")
    finally:
        open(site, "w").write(orig)


def pamtester(service, rhost, password, *ops):
    return subprocess.run(["pamtester", "-v", "-I", f"rhost={rhost}", service,
                           TESTER] + list(ops),
                          input=(password + "\n").encode(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60)


def pam_checks(receiver):
    service = "gh-installtest"
    with check("pam: pam-auth-update --enable gatehouse puts pam_gatehouse "
               "in common-auth and common-session, not in "
               "common-session-noninteractive"):
        sh(["pam-auth-update", "--enable", "gatehouse"])
        for f in ("common-auth", "common-session"):
            if "pam_gatehouse.so" not in open(f"/etc/pam.d/{f}").read():
                raise Fail(f"/etc/pam.d/{f} has no pam_gatehouse.so")
        # cron, sudo, su -c: no remote host to learn (docs/pam.md); the
        # profile's Session-Interactive-Only keeps the module out.
        if "pam_gatehouse" in open("/etc/pam.d/common-session-noninteractive").read():
            raise Fail("/etc/pam.d/common-session-noninteractive has pam_gatehouse")
        # A service like sshd's: the common stacks.
        open(f"/etc/pam.d/{service}", "w").write(
            "@include common-auth\n@include common-account\n"
            "@include common-session\n")
    with check("pam: pamtester logins (right password: success; wrong: "
               "refused) with the profile on"):
        r = pamtester(service, "198.51.100.7", PASSWORD, "authenticate",
                      "acct_mgmt", "open_session", "close_session")
        log(f"pamtester: {r.returncode} {r.stdout.decode(errors='replace')}")
        if r.returncode != 0:
            raise Fail(f"the right password failed: {r.stdout.decode()[-200:]}")
        r = pamtester(service, "198.51.100.7", "wrong", "authenticate")
        if r.returncode == 0:
            raise Fail("a wrong password was accepted")
        time.sleep(1)  # the first network, learnt by the detached writer
    with check("pam: a login from a new network reaches the user's local "
               "mailbox (login.new_host, login bridge, notifyd, Postfix)"):
        r = pamtester(service, "203.0.113.9", PASSWORD, "authenticate",
                      "open_session", "close_session")
        if r.returncode != 0:
            raise Fail(f"login failed: {r.stdout.decode()[-200:]}")
        mbox_find(TESTER, lambda raw: b"New sign-in" in raw and
                  b"203.0.113.9" in raw, "the login.new_host alert", 30)
    with check("pam: a burst of wrong passwords reaches the user's mailbox, "
               "and root's for the address (login.failed_burst)"):
        procs = [subprocess.Popen(["pamtester", "-I", "rhost=192.0.2.66",
                                   service, TESTER, "authenticate"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
                 for _ in range(6)]
        for p in procs:
            p.communicate(b"wrong\n", timeout=60)
        mbox_find(TESTER, lambda raw: b"failed sign-ins" in raw,
                  "the login.failed_burst alert", 30)
        mbox_find("root", lambda raw: b"192.0.2.66" in raw,
                  "the per-address login.failed_burst alert (admin_addresses)", 30)


def log_check():
    """What our daemons said at warning level or worse, in their units'
    output and in syslog: a clean install and a clean run say nothing."""
    with check("our daemons log no warning or error"):
        bad = []
        for f in sorted(LOGS.glob("gatehouse*.log")):
            bad += [ln for ln in f.read_text(errors="replace").splitlines()
                    if not ln.startswith("== ")]
        syslog = LOGS / "syslog.log"
        if syslog.exists():
            bad += [ln for ln in syslog.read_text(errors="replace").splitlines()
                    if re.search(r"\bgatehouse-[a-z]+\[", ln)]
        bad = [re.sub(r"^(<\d+>\w+ +\d+ [\d:]+ |[\d:.]+ )", "", ln) for ln in bad
               if re.search(r"\b(warning|error|crit|alert|emerg)\b", ln, re.I)]
        # nginx: what the integration tests treat as a crash or a leak
        for f in glob.glob("/var/log/nginx/error.log"):
            bad += [f"nginx: {ln}" for ln in open(f, errors="replace").read()
                    .splitlines() if re.search(r"\[(alert|emerg|crit)\]|"
                                               r"exited on signal", ln)]
        seen = list(dict.fromkeys(bad))
        if seen:
            raise Fail(f"{len(seen)} line(s): " + " | ".join(seen[:4]))


# ---- apt purge ----

# What is expected to stay after the purge, and why (Debian policy: a
# purge removes the package's files, its conffiles and what its scripts
# made; not what the admin made, nor system users).
KEEP = [
    (r"/etc/gatehouse(/dkim(/example\.org(/.*)?)?)?",
     "the admin's DKIM keys (gatehouse.postrm keeps published keys)"),
    (r"/srv(/.*)?", "the admin's upload directory"),
    (r"/etc/nginx/sites-(available|enabled)/gatehouse", "the admin's site"),
    (r"/etc/pam\.d/gh-installtest", "the test's PAM service"),
    (r"/var/lib/clamav(/.*)?", "the test's signature database"),
    (r"/home/tester(/.*)?|/var/mail/(tester|root)", "the test user's and root's mail"),
    (r"/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?",
     "system users stay (policy)"),
    (r"/etc/(postfix|mail)/.*", "the MTA's configuration the admin edited"),
    (r"/var/lib/pam/.*", "pam-auth-update's state (libpam-runtime's)"),
    (r"/etc/nginx/nginx\.conf", "the admin's nginx.conf edit"),
    (r"/etc/(ld\.so\.cache|aliases\.db|mailname)", "system caches"),
    (r"/etc/ssl/certs/[0-9a-f]{8}\.\d+", "sendmail's init script's TLS set-up"),
]
VOLATILE = ("/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/gh-test",
            "/var/log", "/var/cache", "/var/lib/apt", "/var/lib/dpkg",
            "/var/spool/mqueue", "/var/lib/sendmail",
            "/var/lib/systemd/deb-systemd-helper-masked", "/var/backups",
            "/var/lib/ucf", "/var/lib/nginx", "/var/lib/postfix",
            "/etc/mail/", "/var/spool/mqueue-client")


def tree():
    """Every path but the volatile ones; of Postfix's queue, only what is
    not Postfix's own (its queue directories come and go as it runs)."""
    out = set()
    for dirpath, dirnames, filenames in os.walk("/"):
        if dirpath.startswith(VOLATILE) or dirpath in ("/proc", "/sys", "/dev"):
            dirnames[:] = []
            continue
        if dirpath == "/var/spool/postfix":
            dirnames[:] = [d for d in dirnames if d == "gatehouse"]
            filenames = []
        for n in dirnames + filenames:
            out.add(os.path.join(dirpath, n))
    return out


# A file of the admin's under /var/lib/gatehouse (README used to suggest
# uploads there): the purge takes the stores, never this.
ADMIN_FILE = "/var/lib/gatehouse/uploads/2026/report.pdf"


def purge_checks(pkgs=OURS, admin_file=None):
    """apt purge, then what is left.  admin_file: a file of the admin's
    made under /var/lib/gatehouse first, which must survive (and keep the
    directory); without it /var/lib/gatehouse must go too."""
    before = set((T / "before.txt").read_text().split("\n")) - {""}
    keep = list(KEEP)
    if admin_file:
        os.makedirs(os.path.dirname(admin_file), exist_ok=True)
        open(admin_file, "wb").write(PDF)
        keep.append((r"/var/lib/gatehouse(/uploads(/.*)?)?",
                     "the admin's uploads under /var/lib/gatehouse"))
    with contextlib.suppress(OSError):
        (LOGS / "gatehouse.conf").write_bytes(
            open("/etc/gatehouse/gatehouse.conf", "rb").read())
    with check("purge: the gatehouse services stop"):
        stuck = [n for n, u in units.items()
                 if n.startswith("gatehouse") and not u.stop()]
        if stuck:
            raise Fail("did not stop on SIGTERM: " + " ".join(stuck))
    with check(f"purge: apt purge {' '.join(pkgs)}, then apt autoremove --purge"):
        sh(["apt-get", "purge", "-y"] + pkgs, timeout=180,
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        # What our packages pulled in (libgd's fontconfig and fonts, ...)
        # goes as an admin removes it: autoremove, purging its conffiles.
        sh(["apt-get", "autoremove", "--purge", "-y"], timeout=180,
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    with check("purge: nothing of ours is left (conffiles, /var/lib/gatehouse, "
               "token keys, units, module link, PAM lines, socket dir)") as r:
        gone = ["/etc/gatehouse/gatehouse.conf",
                "/var/lib/gatehouse/store", "/var/lib/gatehouse/mail",
                "/var/lib/gatehouse/web", "/var/lib/gatehouse/login",
                "/etc/gatehouse/token.key", "/etc/gatehouse/token-mail.key",
                "/etc/gatehouse/token-web.key",
                "/etc/nginx/modules-enabled/50-mod-http-gatehouse.conf",
                "/usr/share/pam-configs/gatehouse",
                "/var/spool/postfix/gatehouse",
                "/usr/lib/sysusers.d/gatehouse.conf",
                "/usr/lib/tmpfiles.d/gatehouse.conf"]
        if not admin_file:
            gone.append("/var/lib/gatehouse")
        gone += glob.glob("/lib/systemd/system/gatehouse*")
        gone += glob.glob("/etc/systemd/system/*/gatehouse*")
        gone += glob.glob("/var/lib/systemd/deb-systemd-helper-enabled/**/gatehouse*",
                          recursive=True)
        left = [p for p in gone if os.path.lexists(p)]
        for f in glob.glob("/etc/pam.d/*"):
            if "pam_gatehouse" in open(f, errors="replace").read():
                left.append(f + " (a pam_gatehouse line)")
        after = tree()
        new = sorted(after - before)
        stray = []
        kept = []
        for p in new:
            why = next((w for rx, w in keep if re.fullmatch(rx, p)), None)
            (kept if why else stray).append((p, why))
        with open(LOGS / "purge-leftovers.txt", "w") as f:
            for p, why in kept:
                f.write(f"kept: {p}  ({why})\n")
            for p, _ in stray:
                f.write(f"LEFT: {p}\n")
        left += [p for p, _ in stray if p not in left]
        if left:
            raise Fail(f"{len(left)} left: " + " ".join(left[:12])
                       + (" ..." if len(left) > 12 else ""))
        r["reason"] = f"{len(kept)} paths of the admin's/test's kept"
    if admin_file:
        with check("purge: a file of the admin's in /var/lib/gatehouse/uploads "
                   "survives apt purge (only the stores go)"):
            if not os.path.exists(admin_file):
                raise Fail(f"{admin_file} is gone")
            if open(admin_file, "rb").read() != PDF:
                raise Fail(f"{admin_file} changed")


# ---- the Sendmail root ----

def sendmail_root():
    with check("sendmail: admin steps (DKIM keys, sendmail.mc from the "
               "installed sendmail.mc.sample, make -C /etc/mail)"):
        boot()
        add_tester()
        records = admin_keys()
        sample = doc_example("gatehouse-milter", "sendmail.mc.sample")
        lines = [ln for ln in sample.splitlines()
                 if ln.strip() and not ln.startswith("dnl")]
        if not any(ln.startswith("INPUT_MAIL_FILTER") for ln in lines):
            raise Fail("sendmail.mc.sample has no INPUT_MAIL_FILTER line")
        # Its gatehouse.conf block, "dnl   [milter]" then "dnl   key = value".
        block = re.search(r"^dnl\s+\[milter\]\n((?:dnl\s{2,}\w+\s*=.*\n)+)",
                          sample, re.M)
        if not block:
            raise Fail("sendmail.mc.sample has no [milter] block for gatehouse.conf")
        for m in re.finditer(r"^dnl\s+(\w+)\s*=[ \t]*(.*)$", block.group(1), re.M):
            conf_set("milter", m.group(1), m.group(2).strip())
        mc = open("/etc/mail/sendmail.mc").read()
        at = re.search(r"^(MAILER_DEFINITIONS|MAILER\()", mc, re.M)
        mc = mc[:at.start()] + "\n".join(lines) + "\n" + mc[at.start():]
        open("/etc/mail/sendmail.mc", "w").write(mc)
        sh(["make", "-C", "/etc/mail"], timeout=120)
        sh(["gatehouse", "config", "check"], check=False)
    core_units()
    milter_and_mta("sendmail", ["/etc/init.d/sendmail"])
    mail_checks("sendmail", records)
    log_check()
    purge_checks(["gatehouse", "gatehouse-milter"])


def main():
    reap_as_init()
    LOGS.mkdir(parents=True, exist_ok=True)
    kind = sys.argv[1]
    if kind == "snapshot":
        (T / "before.txt").write_text("\n".join(sorted(tree())) + "\n")
        return 0
    syslog_listener(["/dev/log", "/var/spool/postfix/dev/log"]
                    if kind == "postfix" else ["/dev/log"])
    try:
        postfix_root() if kind == "postfix" else sendmail_root()
    finally:
        sh("ps -eo pid,user,group,args", check=False)
        # What is worth a look after a failure, the root being removed.
        for src in ("/var/log/nginx/error.log", "/etc/gatehouse/gatehouse.conf",
                    f"/var/mail/{TESTER}", "/etc/mail/sendmail.mc"):
            with contextlib.suppress(OSError):
                dst = LOGS / ("root" + src.replace("/", "_"))
                dst.write_bytes(open(src, "rb").read())
        if kind == "postfix":
            with contextlib.suppress(Exception):
                (LOGS / "postconf-n.txt").write_text(sh(["postconf", "-n"], check=False))
        for u in units.values():
            with contextlib.suppress(Exception):
                u.stop(timeout=5)
        save()
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
