"""Each channel kind against a local receiver: the SMTP message (headers,
encoded words, multipart), SMTP refusals, AUTH and STARTTLS, the chat
payload formats, the SMS gateway, ntfy, gotify, and Web Push decrypted
here with the subscription's private key."""
import base64
import datetime
import email
import email.policy
import hashlib
import ipaddress
import json
import os
import signal
import ssl
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from nd_support import TEMPLATES, wait_until
from nd_sinks import HttpSink, SmtpSink


def smtp_channel(sink, name="mail", extra=""):
    return (f"[channel.{name}]\ntype = smtp\nurl = {sink.url()}\n"
            f"from = notify@example.org\nfrom_name = Gatehouse Notices\n"
            f"backoff_base = 100ms\nbackoff_cap = 200ms\nstarttls = no\n{extra}\n")


def test_smtp_message_format(env, smtp_sink):
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", templates=TEMPLATES)
    env.gh("users", "set", "zoe", "--email", "zoe@example.org", "--name",
           "Zoë Ünal")
    eid = env.gh("events", "enqueue", "--user", "zoe", "--type",
                 "login.new_host", "--title", "Nouvelle connexion à l’hôte",
                 "--message", "zoe signed in from 192.0.2.9",
                 "--metadata", '{"host": "web1", "addr": "192.0.2.9", '
                 '"network": "192.0.2.0/24", "service": "sshd"}',
                 json_out=True)["id"]
    env.start()
    env.wait_state(eid)
    msgs = smtp_sink.got()
    assert len(msgs) == 1
    m = msgs[0]
    assert m["from"] == "notify@example.org"
    assert m["to"] == ["zoe@example.org"]
    raw = m["data"]
    assert b"\r\n" in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    # the shipped template's subject, encoded words for the display name
    assert msg["Subject"] == "New sign-in to web1 from 192.0.2.9"
    assert "=?utf-8?" in raw.decode("ascii").split("\r\n\r\n")[0].lower()
    assert msg["To"].addresses[0].display_name == "Zoë Ünal"
    assert msg["From"].addresses[0].display_name == "Gatehouse Notices"
    assert msg["Date"] is not None and msg["Message-ID"].startswith(f"<{eid}.")
    assert msg["X-Gatehouse-Idempotency-Key"] == f"{eid}:mail:zoe@example.org"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hello Zoë Ünal" in text and "192.0.2.0/24" in text
    assert "<b>web1</b>" in html and "192.0.2.9" in html
    env.stop()


def test_admin_templates_override_shipped_ones(env, smtp_sink):
    """[notifyd] templates (the /etc one) over shipped_templates (the
    packages' /usr/share one), file by file: the same name wins, the rest
    stays shipped, and without the override the shipped file is back."""
    etc = env.tmp / "etc-templates"
    etc.mkdir()
    (etc / "login.new_host.smtp.txt").write_text(
        "Local policy: {{user}} from {{metadata.addr}}\n")
    (etc / "disk.full.subject").write_text("Disk {{metadata.fs}} is full\n")
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", templates=etc,
                   shipped=TEMPLATES)
    env.gh("users", "set", "zoe", "--email", "zoe@example.org")
    meta = ('{"host": "web1", "addr": "192.0.2.9", '
            '"network": "192.0.2.0/24", "service": "sshd"}')

    def send(type_, metadata):
        eid = env.gh("events", "enqueue", "--user", "zoe", "--type", type_,
                     "--title", "t", "--metadata", metadata,
                     json_out=True)["id"]
        env.wait_state(eid)
        msg = email.message_from_bytes(smtp_sink.got()[-1]["data"],
                                       policy=email.policy.default)
        return msg, msg.get_body(("plain",)).get_content()

    env.start()
    msg, text = send("login.new_host", meta)
    assert text.strip() == "Local policy: zoe from 192.0.2.9"
    # not overridden: still the shipped subject and HTML body
    assert msg["Subject"] == "New sign-in to web1 from 192.0.2.9"
    assert "<b>web1</b>" in msg.get_body(("html",)).get_content()
    msg, _ = send("disk.full", '{"fs": "/var"}')
    assert msg["Subject"] == "Disk /var is full"
    # the override removed: the shipped file again, after a reload
    (etc / "login.new_host.smtp.txt").unlink()
    env.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in env.log_text(), 30,
               "the reload")
    msg, text = send("login.new_host", meta)
    assert "Someone signed in to web1 as zoe" in text
    assert "Local policy" not in text
    env.stop()


def test_smtp_html_is_escaped_and_non_ascii_subject(env, smtp_sink):
    env.write_conf(smtp_channel(smtp_sink), notifyd="default_channels = mail\n")
    env.gh("users", "set", "ann", "--email", "ann@example.org")
    eid = env.notify("ann", "Réunion <b>demain</b> — 会議", "app.x",
                     "--message", "<script>alert(1)</script>")
    env.start()
    env.wait_state(eid)
    msg = email.message_from_bytes(smtp_sink.got()[0]["data"],
                                   policy=email.policy.default)
    assert msg["Subject"] == "Réunion <b>demain</b> — 会議"
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    # a missing template is logged once, not per message
    e2 = env.notify("ann", "again", "app.x")
    env.wait_state(e2)
    assert env.log_text().count("no text template for app.x on smtp") == 1
    env.stop()


def test_smtp_refusals(env):
    sink = SmtpSink()
    sink.refuse = {"nobody@": "550 5.1.1 no such user",
                   "busy@": "451 4.3.0 try later"}
    try:
        env.write_conf(smtp_channel(sink, extra="max_attempts = 50\n"),
                       notifyd="default_channels = mail\n")
        env.gh("users", "set", "n", "--email", "nobody@example.org")
        env.gh("users", "set", "b", "--email", "busy@example.org")
        dead = env.notify("n")
        later = env.notify("b")
        env.start()
        env.wait_state(dead, ("dead",))
        d = env.deliveries(dead)[("mail", "nobody@example.org")]
        assert d["attempts"] == 1 and "SMTP 550" in d["last_error"]
        wait_until(lambda: env.deliveries(later).get(
            ("mail", "busy@example.org"), {}).get("attempts", 0) >= 2, 20,
            "two tempfails")
        d = env.deliveries(later)[("mail", "busy@example.org")]
        assert d["state"] in ("retry", "deferred") or d["attempts"] >= 2
        assert "SMTP 451" in d["last_error"]
        assert env.state(later) != "dead"
        assert sink.got() == []
        env.stop()
    finally:
        sink.close()


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    cp, kp = tmp_path / "cert.pem", tmp_path / "key.pem"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return cp, kp


def test_smtp_starttls_and_auth(env, tmp_path):
    cp, kp = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cp, kp)
    sink = SmtpSink(auth=("relayuser", "s3cret pass"), tls_context=ctx,
                    require_starttls=True)
    pw = tmp_path / "smtp.pw"
    pw.write_text("s3cret pass\n")
    try:
        env.write_conf(f"[channel.mail]\ntype = smtp\nurl = {sink.url()}\n"
                       f"from = notify@example.org\nstarttls = yes\n"
                       f"ca_file = {cp}\nusername = relayuser\n"
                       f"password_file = {pw}\n",
                       notifyd="default_channels = mail\n")
        env.gh("users", "set", "tls", "--email", "tls@example.org")
        eid = env.notify("tls")
        env.start()
        env.wait_state(eid)
        m = sink.got()[0]
        assert m["tls"] is True
        assert m["auth"] == "relayuser"
        env.stop()
    finally:
        sink.close()


def test_smtps_implicit_tls(env, tmp_path):
    cp, kp = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cp, kp)
    sink = SmtpSink(implicit_tls=ctx)
    try:
        env.write_conf(f"[channel.mail]\ntype = smtp\nurl = {sink.url('smtps')}\n"
                       f"from = notify@example.org\nca_file = {cp}\n",
                       notifyd="default_channels = mail\n")
        env.gh("users", "set", "tls", "--email", "tls@example.org")
        eid = env.notify("tls")
        env.start()
        env.wait_state(eid)
        assert len(sink.got()) == 1
        # a certificate it cannot verify is a failure, retried
        env.stop()
        env.write_conf(f"[channel.mail]\ntype = smtp\nurl = {sink.url('smtps')}\n"
                       f"from = notify@example.org\nbackoff_base = 10s\n",
                       notifyd="default_channels = mail\n")
        bad = env.notify("tls")
        env.start()
        wait_until(lambda: env.deliveries(bad).get(("mail", "tls@example.org"),
                   {}).get("state") == "retry", 20, "a TLS failure")
        assert "curl:" in env.deliveries(bad)[("mail", "tls@example.org")][
            "last_error"]
        assert len(sink.got()) == 1
        env.stop()
    finally:
        sink.close()


def test_chat_payload_formats(env, http_sink):
    chans = ""
    for kind, style in (("slack", ""), ("mattermost", ""), ("discord", ""),
                        ("teams", "adaptive"), ("teams", "messagecard")):
        name = kind if not style else f"teams-{style}"
        chans += (f"[channel.{name}]\ntype = {kind}\nurl = "
                  f"{http_sink.url('/' + name)}\n")
        if style:
            chans += f"style = {style}\n"
    env.write_conf(chans, notifyd="default_channels = slack mattermost "
                   "discord teams-adaptive teams-messagecard\n")
    eid = env.notify("ops", "Disk <almost> full & hot", "disk.full",
                     "--message", "@everyone /var is 97% full",
                     "--action-url", "https://example.org/disk",
                     "--priority", "urgent")
    env.start()
    env.wait_state(eid)

    def body(path):
        reqs = http_sink.got(path)
        assert len(reqs) == 1, path
        assert reqs[0]["headers"]["idempotency-key"].startswith(f"{eid}:")
        return json.loads(reqs[0]["body"])

    s = body("/slack")
    assert s["text"] == "Disk &lt;almost&gt; full &amp; hot"
    kinds = [b["type"] for b in s["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and "actions" in kinds
    mm = body("/mattermost")
    assert mm["text"].startswith("#### Disk <almost> full & hot")
    assert "[Open](https://example.org/disk)" in mm["text"]
    dc = body("/discord")
    assert dc["embeds"][0]["title"] == "Disk <almost> full & hot"
    assert dc["embeds"][0]["url"] == "https://example.org/disk"
    assert dc["allowed_mentions"] == {"parse": []}
    ta = body("/teams-adaptive")
    assert ta["type"] == "message"
    card = ta["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    tm = body("/teams-messagecard")
    assert tm["@type"] == "MessageCard" and tm["title"].startswith("Disk")
    env.stop()


def test_sms_gateway_form_and_json(env, http_sink, tmp_path):
    env.write_conf(
        f"[channel.sms]\ntype = sms\nurl = {http_sink.url('/sms-form')}\n"
        f"username = AC123\npassword = tok\nfrom = +15550000000\n"
        f"body = To={{{{recipient}}}}&From={{{{from}}}}&Body={{{{text}}}}\n"
        f"max_chars = 40\n\n"
        f"[channel.sms-json]\ntype = sms\nurl = {http_sink.url('/smsj')}\n"
        f"format = json\ntoken = bearer-tok\nmethod = PUT\n",
        notifyd="default_channels = sms sms-json\n")
    env.gh("users", "set", "pat", "--phone", "+15551234567")
    eid = env.notify("pat", "Code & more", "app.x", "--message",
                     "x" * 100)
    env.start()
    env.wait_state(eid)
    f = http_sink.got("/sms-form")[0]
    assert f["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert f["headers"]["authorization"] == "Basic " + base64.b64encode(
        b"AC123:tok").decode()
    from urllib.parse import parse_qs
    q = parse_qs(f["body"].decode())
    assert q["To"] == ["+15551234567"] and q["From"] == ["+15550000000"]
    assert q["Body"][0].startswith("Code & more")
    assert len(q["Body"][0]) <= 40
    j = http_sink.got("/smsj")[0]
    assert j["method"] == "PUT"
    assert j["headers"]["authorization"] == "Bearer bearer-tok"
    assert json.loads(j["body"])["to"] == "+15551234567"
    # no phone: skipped with a reason, not failed
    e2 = env.notify("nophone")
    env.wait_state(e2)
    assert "no phone" in env.deliveries(e2)[("sms", "nophone")]["reason"]
    env.stop()


def test_ntfy_and_gotify(env, http_sink):
    env.write_conf(
        f"[channel.ntfy]\ntype = ntfy\nurl = {http_sink.url('/ntfy/')}\n"
        f"topic = alerts\ntoken = tk_abc\n\n"
        f"[channel.gotify]\ntype = gotify\nurl = {http_sink.url('/gotify/')}\n"
        f"token = AppTok\n",
        notifyd="default_channels = ntfy gotify\n")
    env.gh("users", "set", "quinn", "--chat", "ntfy=quinn-phone")
    a = env.notify("quinn", "Urgent thing", "app.x", "--priority", "urgent")
    b = env.notify("rob", "Low thing", "app.x", "--priority", "low")
    env.start()
    env.wait_state(a)
    env.wait_state(b)
    nt = {json.loads(r["body"])["title"]: r for r in http_sink.got("/ntfy")}
    qa = json.loads(nt["Urgent thing"]["body"])
    assert qa["topic"] == "quinn-phone" and qa["priority"] == 5
    assert nt["Urgent thing"]["headers"]["authorization"] == "Bearer tk_abc"
    assert nt["Urgent thing"]["path"] == "/ntfy/"
    assert json.loads(nt["Low thing"]["body"])["topic"] == "alerts"
    assert json.loads(nt["Low thing"]["body"])["priority"] == 2
    gt = {json.loads(r["body"])["title"]: r for r in http_sink.got("/gotify")}
    assert gt["Urgent thing"]["path"] == "/gotify/message"
    assert gt["Urgent thing"]["headers"]["x-gotify-key"] == "AppTok"
    assert json.loads(gt["Urgent thing"]["body"])["priority"] == 10
    env.stop()


# ---- Web Push ----

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hkdf(salt, ikm, info, n):
    return HKDF(hashes.SHA256(), n, salt, info).derive(ikm)


def decrypt(body, ua_priv, ua_pub, auth):
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    as_pub = body[21:21 + idlen]
    assert rs == 4096 and idlen == 65
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_pub)
    secret = ua_priv.exchange(ec.ECDH(), peer)
    ikm = hkdf(auth, secret, b"WebPush: info\x00" + ua_pub + as_pub, 32)
    cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    plain = AESGCM(cek).decrypt(nonce, body[21 + idlen:], None).rstrip(b"\x00")
    assert plain[-1] == 2
    return plain[:-1]


def check_vapid(header, endpoint_origin):
    assert header.startswith("vapid t=")
    t = header[len("vapid t="):].split(",")[0]
    k = header.split("k=")[1].strip()
    h, p, s = t.split(".")
    claims = json.loads(unb64u(p))
    assert claims["aud"] == endpoint_origin
    assert claims["sub"] == "mailto:admin@example.org"
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                       unb64u(k))
    raw = unb64u(s)
    sig = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                               int.from_bytes(raw[32:], "big"))
    key.verify(sig, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))


def vapid_key_file(tmp_path):
    vapid = ec.generate_private_key(ec.SECP256R1())
    kf = tmp_path / "vapid.pem"
    kf.write_bytes(vapid.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return kf


def push_channel(kf, extra=""):
    return (f"[channel.push]\ntype = webpush\nvapid_key_file = {kf}\n"
            f"vapid_subject = mailto:admin@example.org\nttl = 1h\n{extra}")


def subscription(endpoint):
    ua_priv = ec.generate_private_key(ec.SECP256R1())
    ua_pub = ua_priv.public_key().public_bytes(
        serialization.Encoding.X962,
        serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    return ({"endpoint": endpoint,
             "keys": {"p256dh": b64u(ua_pub), "auth": b64u(auth)}},
            ua_priv, ua_pub, auth)


def push_rcpt(endpoint):
    return "push:" + hashlib.sha256(endpoint.encode()).hexdigest()[:16]


def test_webpush_encrypted_and_gone_subscription_removed(env, tmp_path):
    # The local push service is on 127.0.0.1: a lab setup, which notifyd
    # refuses unless the channel allows private addresses.
    kf = vapid_key_file(tmp_path)
    cp, kp = self_signed(tmp_path)
    sink = HttpSink(tls=(cp, kp))
    try:
        env.write_conf(push_channel(kf, f"ca_file = {cp}\n"
                                        f"allow_private = yes\n"),
                       notifyd="default_channels = push\n")
        live, ua_priv, ua_pub, auth = subscription(sink.url("/push/live"))
        gone = subscription(sink.url("/push/gone"))[0]
        sink.set("/push/gone", "fail", status=410)
        env.gh("users", "set", "uma", "--push-add", json.dumps(live),
               "--push-add", json.dumps(gone))
        assert len(env.gh("users", "show", "uma", json_out=True)["push"]) == 2
        eid = env.notify("uma", "Pushed", "app.x", "--message", "hello there",
                         "--priority", "high")
        env.start()
        env.wait_state(eid, ("dead",))
        r = sink.got("/push/live")[0]
        assert r["headers"]["content-encoding"] == "aes128gcm"
        assert r["headers"]["ttl"] == "3600"
        assert r["headers"]["urgency"] == "high"
        check_vapid(r["headers"]["authorization"],
                    f"https://127.0.0.1:{sink.port}")
        payload = json.loads(decrypt(r["body"], ua_priv, ua_pub, auth))
        assert payload["title"] == "Pushed"
        assert payload["body"] == "hello there"
        d = env.deliveries(eid)
        states = sorted(v["state"] for k, v in d.items() if k[0] == "push")
        assert states == ["dead", "delivered"]
        # the subscription the push service called gone is removed
        subs = env.gh("users", "show", "uma", json_out=True)["push"]
        assert [s["endpoint"] for s in subs] == [live["endpoint"]]
        # the opt-in is no secret: it is logged at start
        assert "[channel.push] allow_private = yes" in env.log_text()
        env.stop()
    finally:
        sink.close()


def test_webpush_non_public_endpoints_refused_at_connect(env, tmp_path):
    """Push endpoints are users' input: with allow_private off (the
    default), a subscription on loopback -- by address, by a name that
    resolves there, in IPv6 and IPv4-mapped form -- or at the cloud
    metadata address is refused before any connection is made, for good.
    The receiver here would accept every one of them (its certificate is
    trusted and names 127.0.0.1 and localhost)."""
    kf = vapid_key_file(tmp_path)
    cp, kp = self_signed(tmp_path)
    sink = HttpSink(tls=(cp, kp))
    try:
        env.write_conf(push_channel(kf, f"ca_file = {cp}\nmax_attempts = 3\n"
                                        f"backoff_base = 100ms\n"
                                        f"backoff_cap = 200ms\n"
                                        f"connect_timeout = 1s\n"),
                       notifyd="default_channels = push\n")
        want = {sink.url("/push/ip"): "127.0.0.1 is not a public address "
                                      "(loopback)",
                sink.url("/push/name", host="localhost"):
                    "is not a public address (loopback)",
                f"https://[::1]:{sink.port}/push/v6":
                    "::1 is not a public address (loopback)",
                f"https://[::ffff:127.0.0.1]:{sink.port}/push/mapped":
                    "::ffff:127.0.0.1 is not a public address (loopback)",
                "https://169.254.169.254/latest/meta-data/":
                    "169.254.169.254 is not a public address (link-local)"}
        args = []
        for ep in want:
            args += ["--push-add", json.dumps(subscription(ep)[0])]
        env.gh("users", "set", "ivy", *args)
        eid = env.notify("ivy", "Probe")
        env.start()

        def settled():
            d = env.deliveries(eid)
            return sink.connections > 0 or (len(d) == len(want) and all(
                v["state"] in ("dead", "delivered") for v in d.values()))
        wait_until(settled, 30, f"the deliveries of event {eid}")
        assert sink.connections == 0 and sink.got() == []
        d = env.deliveries(eid)
        for ep, why in want.items():
            rec = d[("push", push_rcpt(ep))]
            assert rec["state"] == "dead", (ep, rec)
            assert rec["attempts"] == 1, (ep, rec)       # not retried
            assert rec["last_error"].startswith("endpoint refused: "), rec
            assert why in rec["last_error"], (ep, rec)
            assert "http_status" not in rec, rec
        env.wait_state(eid, ("dead",))
        # and they stay that way
        env.stop()
        assert all(v["attempts"] == 1 for v in env.deliveries(eid).values())
        assert "endpoint refused: 127.0.0.1 is not a public address" in \
            env.log_text()
    finally:
        sink.close()


def test_webpush_no_reuse_of_an_internal_connection(env, tmp_path):
    """An admin's webhook on an internal https host leaves a kept-alive
    connection that libcurl would reuse for any request to the same host
    and port, without opening a socket: a push endpoint naming that host
    must be refused all the same, and the receiver must get nothing from
    it."""
    kf = vapid_key_file(tmp_path)
    cp, kp = self_signed(tmp_path)
    sink = HttpSink(tls=(cp, kp))
    try:
        env.write_conf(f"[channel.hook]\ntype = webhook\n"
                       f"url = {sink.url('/hook')}\nca_file = {cp}\n\n" +
                       push_channel(kf, f"ca_file = {cp}\n"),
                       notifyd="default_channels = hook push\n")
        env.gh("users", "set", "rex", "--email", "rex@example.org")
        first = env.notify("rex", "Hooked")
        env.start()
        wait_until(lambda: env.deliveries(first).get(("hook", "rex"), {})
                   .get("state") == "delivered", 30, "the webhook")
        assert sink.connections == 1
        ep = sink.url("/push/internal")
        env.gh("users", "set", "rex", "--push-add",
               json.dumps(subscription(ep)[0]))
        eid = env.notify("rex", "Probe", "app.notice", "--channel", "push")
        wait_until(lambda: env.deliveries(eid).get(("push", push_rcpt(ep)),
                   {}).get("state") in ("dead", "delivered"), 30,
                   "the push delivery")
        assert sink.got("/push") == []
        rec = env.deliveries(eid)[("push", push_rcpt(ep))]
        assert rec["state"] == "dead" and rec["attempts"] == 1, rec
        assert rec["last_error"] == ("endpoint refused: 127.0.0.1 is not a "
                                     "public address (loopback)"), rec
        env.stop()
    finally:
        sink.close()


def test_webpush_plain_http_endpoint_refused_at_send(env, tmp_path):
    """A subscription stored before endpoints had to be https (written
    here straight into the users database, as an older gatehouse left it)
    is refused when sent, not POSTed over plain HTTP."""
    kf = vapid_key_file(tmp_path)
    sink = HttpSink()
    try:
        env.write_conf(push_channel(kf), notifyd="default_channels = push\n")
        ep = sink.url("/push/plain")
        rec = {"v": 1, "updated_at": 1, "push": [
            dict(subscription(ep)[0], added_at=1)]}
        dump = tmp_path / "users.txt"
        dump.write_text("old\n" + json.dumps(rec) + "\n")
        subprocess.run(["mdb_load", "-T", "-s", "users", "-f", str(dump),
                        str(env.store)], check=True, capture_output=True)
        assert env.gh("users", "show", "old",
                      json_out=True)["push"][0]["endpoint"] == ep
        eid = env.notify("old", "Probe")
        env.start()
        env.wait_state(eid, ("dead", "done"))
        assert sink.connections == 0
        d = env.deliveries(eid)[("push", push_rcpt(ep))]
        assert d["state"] == "dead" and d["attempts"] == 1
        assert d["last_error"] == "endpoint refused: not an https:// URL"
        env.stop()
    finally:
        sink.close()
