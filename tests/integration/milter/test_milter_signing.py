"""gatehouse-milter behind a real Postfix: which mail is signed, and do
independent verifiers accept what comes out of Postfix.

Outgoing mail (from internal_hosts, or SMTP AUTH) gets one RSA-2048 and one
Ed25519 signature; inbound mail gets none.  "Inbound" and "authenticated"
clients are simulated with Postfix's XCLIENT (ADDR=, LOGIN=), which sets the
client address and the SASL login the milter sees ({auth_authen}) exactly
as a real connection and a real SMTP AUTH would.
"""
import grp
import random
import base64

import pytest

import mailenv
from mailenv import DOMAIN, INBOUND_DOMAIN, send, simple_message, signatures


def check_signed(raw, keys, n=2):
    sigs = signatures(raw)
    assert len(sigs) == n, raw[:2000]
    assert sorted(s["a"] for s in sigs) == sorted(
        ["rsa-sha256", "ed25519-sha256"][:n])
    assert all(s["d"] == DOMAIN for s in sigs)
    assert mailenv.verify_all(raw, keys) == [True] * n
    # DKIM-Signature fields come first, above Postfix's Received
    assert raw.startswith(b"DKIM-Signature:")
    return sigs


def test_internal_client_is_signed_and_logged(world, milter):
    raw = simple_message("internal one")
    assert send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
                raw) == {}
    _, rcpts, out = world.sink.find(b"Subject: internal one")
    assert rcpts == ["bob@example.net"]
    sigs = check_signed(out, milter.keys)
    assert {s["s"] for s in sigs} == {"rsa1", "ed1"}
    # negative control: the verifier can fail here
    assert mailenv.verify_all(out.replace(b"Hello.", b"Hellp."),
                              milter.keys) == [False, False]

    rec = milter.record_for("internal one")
    assert rec["action"] == "accepted"
    assert rec["direction"] == "outgoing"
    assert rec["why"] == "internal host"
    assert rec["sender"] == f"joe@{DOMAIN}"
    assert rec["rcpts"] == ["bob@example.net"]
    assert rec["client_addr"] == "127.0.0.1"
    assert rec["from"] == f"Joe <joe@{DOMAIN}>"
    assert rec["message_id"] == f"<internal.one@{DOMAIN}>"
    assert rec["queue_id"] and rec["queue_id"] in world.postfix.log()
    assert sorted((s["s"], s["a"]) for s in rec["signatures"]) == [
        ("ed1", "ed25519-sha256"), ("rsa1", "rsa-sha256")]
    assert rec["size"] > len(raw) - 10
    assert rec["finished_at"] >= rec["started_at"] > 0
    shown = milter.gh("mail", "show", rec["queue_id"]).stdout
    assert "signature    d=example.org s=rsa1 a=rsa-sha256" in shown


def test_inbound_mail_is_not_signed(world, milter):
    raw = simple_message("inbound one", to=f"carol@{INBOUND_DOMAIN}")
    send(world.postfix.port, f"joe@{DOMAIN}", [f"carol@{INBOUND_DOMAIN}"], raw,
         xclient={"ADDR": "203.0.113.5", "NAME": "mx.elsewhere.test"})
    _, _, out = world.sink.find(b"Subject: inbound one")
    assert b"DKIM-Signature" not in out
    rec = milter.record_for("inbound one")
    assert rec["direction"] == "inbound"
    assert rec["signatures"] == []
    assert rec["client_addr"] == "203.0.113.5"
    assert rec["client_name"] == "mx.elsewhere.test"
    assert rec["action"] == "accepted"


def test_authenticated_client_is_signed_anywhere(world, milter):
    raw = simple_message("authed one")
    send(world.postfix.port, f"joe@{DOMAIN}", [f"carol@{INBOUND_DOMAIN}"], raw,
         xclient={"ADDR": "198.51.100.7", "LOGIN": "alice"})
    _, _, out = world.sink.find(b"Subject: authed one")
    check_signed(out, milter.keys)
    rec = milter.record_for("authed one")
    assert rec["auth_user"] == "alice"
    assert rec["why"] == "authenticated"
    assert rec["client_addr"] == "198.51.100.7"


def test_sign_authenticated_off(world, milter_factory):
    m = milter_factory(milter={"sign_authenticated": "no"})
    send(world.postfix.port, f"joe@{DOMAIN}", [f"carol@{INBOUND_DOMAIN}"],
         simple_message("authed off"),
         xclient={"ADDR": "198.51.100.7", "LOGIN": "alice"})
    _, _, out = world.sink.find(b"Subject: authed off")
    assert b"DKIM-Signature" not in out
    assert m.record_for("authed off")["direction"] == "inbound"


def test_from_domain_without_key_is_not_signed(world, milter):
    raw = simple_message("other domain", frm="Eve <eve@other.test>")
    send(world.postfix.port, "eve@other.test", ["bob@example.net"], raw)
    _, _, out = world.sink.find(b"Subject: other domain")
    assert b"DKIM-Signature" not in out
    rec = milter.record_for("other domain")
    assert rec["direction"] == "outgoing"
    assert rec["unsigned"] == "no key for the From domain"


def test_subdomain_uses_parent_key(world, milter):
    raw = simple_message("sub domain", frm=f"News <news@mail.{DOMAIN}>")
    send(world.postfix.port, f"news@mail.{DOMAIN}", ["bob@example.net"], raw)
    _, _, out = world.sink.find(b"Subject: sub domain")
    sigs = check_signed(out, milter.keys)
    assert {s["d"] for s in sigs} == {DOMAIN}


def test_sendmail_lf_only_through_non_smtpd_milters(world, milter):
    raw = (b"From: Joe <joe@example.org>\nTo: bob@example.net\n"
           b"Subject: via sendmail\n\tfolded with LF only  \n\n"
           b"line one  \nline\t\ttwo\n\n.dot\n..two dots\n\n\n")
    world.postfix.sendmail(f"joe@{DOMAIN}", ["bob@example.net"], raw)
    _, _, out = world.sink.find(b"Subject: via sendmail")
    check_signed(out, milter.keys)
    rec = milter.record_for("via sendmail folded with LF only")
    assert rec["direction"] == "outgoing"
    assert rec["client_addr"] == "127.0.0.1"


def test_unix_socket(world, milter_factory):
    m = milter_factory(socket=f"unix:{world.milter_sock}")
    st = world.milter_sock.stat()
    assert oct(st.st_mode & 0o777) == "0o660"
    assert st.st_gid == grp.getgrnam("postfix").gr_gid
    send(world.postfix.unix_port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("over unix"))
    _, _, out = world.sink.find(b"Subject: over unix")
    check_signed(out, m.keys)
    m.stop()
    # libmilter removes its socket when it stops (as a non-root user it
    # would; as root it leaves it), either way a new start replaces it
    m2 = milter_factory(socket=f"unix:{world.milter_sock}")
    send(world.postfix.unix_port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("over unix again"))
    _, _, out = world.sink.find(b"Subject: over unix again")
    check_signed(out, m2.keys)


# ---------------------------------------------------------------- corpus

def corpus():
    base = [b"From: Joe Sender <joe@example.org>",
            b"To: Alice <alice@example.net>",
            b"Date: Mon, 01 Jan 2024 10:00:00 +0000"]
    rcpts40 = b",\n\t".join(b"user%02d@example.net" % i for i in range(40))
    data = random.Random(7).randbytes(600 * 1024)
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return {
        "folded-long": (base + [
            b"Subject: a subject folded\n   over several\n\tlines  ",
            b"Cc: " + rcpts40,
            b"X-Long: " + b"y" * 900], b"Body.\r\n"),
        "duplicates": (base + [b"Subject: one", b"Comments: a",
                               b"Comments: b", b"To: second@example.net"],
                       b"dups\r\n"),
        "empty-body": (base + [b"Subject: empty body"], b""),
        "blank-lines": (base + [b"Subject: blank lines"], b"\r\n" * 30),
        "trailing-ws": (base + [b"Subject:   spaced \t ",
                                b"X-Trailing: value\t \t"],
                        b"trailing   \r\ntabs\t\t\r\n   \r\nend \t\r\n \r\n"),
        "utf8": (base + ["Subject: Grüße — naïve café ☕ 日本語".encode(),
                         "X-Name: Jürgen Müller".encode(),
                         b"MIME-Version: 1.0",
                         b"Content-Type: text/plain; charset=utf-8",
                         b"Content-Transfer-Encoding: 8bit"],
                 "Привет, мир!\r\n€uro ½  \r\n".encode()),
        "dots": (base + [b"Subject: dots"],
                 b".\r\n..\r\n.leading\r\n..double\r\n . spaced\r\nend\r\n"),
        "998": (base + [b"Subject: long lines"],
                b"L" * 998 + b"\r\nshort\r\n" + b"x" * 997 + b" \r\n"),
        "attachment": (base + [b"Subject: attachment", b"MIME-Version: 1.0",
                               b"Content-Type: multipart/mixed; "
                               b"boundary=\"B\""],
                       b"--B\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
                       b"--B\r\nContent-Type: application/octet-stream\r\n"
                       b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
                       b"--B--\r\n"),
    }


# Over a unix socket the milter takes header fields without a reply
# (SMFIP_NR_HDR), over TCP with one: both must see the header exactly.
@pytest.mark.parametrize("sock", ["inet", "unix"])
@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple",
                                   "relaxed/simple", "simple/relaxed"])
def test_corpus_through_postfix(world, milter_factory, tmp_path, canon,
                                sock):
    if sock == "unix":
        m = milter_factory(dkim={"canonicalization": canon},
                           socket=f"unix:{world.milter_sock}")
        port = world.postfix.unix_port
    else:
        m = milter_factory(dkim={"canonicalization": canon})
        port = world.postfix.port
    cases = corpus()
    tag = canon.replace("/", "-") + "-" + sock
    for name, (hdrs, body) in cases.items():
        hdrs = hdrs + [f"X-Case: {tag}-{name}".encode()]
        raw = mailenv.message(hdrs, body)
        send(port, f"joe@{DOMAIN}", ["alice@example.net"], raw)
    outs = {}
    for name in cases:
        _, _, out = world.sink.find(f"X-Case: {tag}-{name}\r\n".encode())
        outs[name] = out
        sigs = signatures(out)
        assert {s["c"] for s in sigs} == {canon}, name
        assert mailenv.verify_all(out, m.keys) == [True, True], name
    # Mail::DKIM (RSA only: Debian 12's predates Ed25519)
    paths = []
    for name, out in outs.items():
        p = tmp_path / f"{name}.eml"
        p.write_bytes(out)
        paths.append(p)
    verdicts = mailenv.verify_perl(paths, m.keys, tmp_path)
    for p in paths:
        rsa_idx = [i for i, s in enumerate(signatures(p.read_bytes()))
                   if s["a"] == "rsa-sha256"]
        assert verdicts[(str(p), str(rsa_idx[0]))] == "pass", p.name


def test_mail_log_off(world, milter_factory):
    m = milter_factory(milter={"mail_log": "no"})
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("unlogged"))
    out = world.sink.find(b"Subject: unlogged")[2]
    check_signed(out, m.keys)
    assert m.mail_log() == []
    assert "unlogged" not in m.log() or "log=0" in m.log()
