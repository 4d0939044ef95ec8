"""Rate limits, opt-out and one-click unsubscribe through Postfix.

Limits are counted in the store per SMTP AUTH user, envelope sender and
sender domain; over a limit the message gets 451 4.7.1 (or 550 5.7.1 by
config), and one mail.rate_limited event per window reaches the queue.
Bulk mail (Precedence, List-Id, a configured header) loses its suppressed
recipients; with none left it is discarded.  Bulk mail to one recipient
gets List-Unsubscribe (a token from docs/tokens.md) and
List-Unsubscribe-Post, both covered by the DKIM signatures.
"""
import json
import smtplib
import subprocess
import urllib.parse

import pytest

import mailenv
from mailenv import DOMAIN, INBOUND_DOMAIN, send, signatures, simple_message


def events(m, type_):
    p = m.gh("--json", "events", "list")
    return [e for e in json.loads(p.stdout) if e["type"] == type_]


LIMITS = "[ratelimit]\nwindow = 1h\nsender_messages = 2\n"


def test_sender_limit_tempfails_and_enqueues_one_event(world, milter_factory):
    m = milter_factory(extra=LIMITS)
    sender = f"busy@{DOMAIN}"
    for i in range(2):
        send(world.postfix.port, sender, ["bob@example.net"],
             simple_message(f"limit ok {i}"))
    for i in range(2):
        with pytest.raises(smtplib.SMTPDataError) as ei:
            send(world.postfix.port, sender, ["bob@example.net"],
                 simple_message(f"limit over {i}"))
        assert ei.value.smtp_code == 451
        assert ei.value.smtp_error.startswith(b"4.7.1 rate limit: sender")
    rec = m.record_for("limit over 0")
    assert rec["action"] == "tempfailed"
    # deferred, so not signed, whatever was computed before the limit
    assert rec["signatures"] == [] and "tempfailed" in rec["unsigned"]
    assert "busy@example.org over 2 messages per 3600s" in rec["reason"]
    evs = events(m, "mail.rate_limited")
    assert len(evs) == 1, evs
    assert evs[0]["metadata"]["scope"] == "sender"
    assert evs[0]["metadata"]["subject"] == sender
    # the admins' concern, not the sender's (notifyd: the routes that
    # take it, else admin_addresses)
    assert evs[0]["recipients"] == ["admins"] and "user" not in evs[0]
    assert evs[0]["metadata"]["sender"] == sender
    assert evs[0]["source"] == "milter"
    # another sender is not affected; inbound mail is never limited
    send(world.postfix.port, f"calm@{DOMAIN}", ["bob@example.net"],
         simple_message("other sender"))
    for i in range(3):
        send(world.postfix.port, sender, [f"carol@{INBOUND_DOMAIN}"],
             simple_message(f"inbound busy {i}"),
             xclient={"ADDR": "203.0.113.9"})
    assert m.record_for("inbound busy 2")["action"] == "accepted"
    # the counters live in the store: a restarted milter still refuses
    m.stop()
    m.start()
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, sender, ["bob@example.net"],
             simple_message("after restart"))
    assert ei.value.smtp_code == 451


def test_user_recipient_limit_with_reject(world, milter_factory):
    m = milter_factory(extra="[ratelimit]\naction = reject\n"
                             "user_recipients = 3\n")
    xc = {"ADDR": "198.51.100.20", "LOGIN": "mallory"}
    # (an XCLIENT login does not permit relaying: inbound.test is ours)
    send(world.postfix.port, f"m@{DOMAIN}",
         [f"a@{INBOUND_DOMAIN}", f"b@{INBOUND_DOMAIN}"],
         simple_message("rcpt ok"), xclient=xc)
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, f"m@{DOMAIN}",
             [f"c@{INBOUND_DOMAIN}", f"d@{INBOUND_DOMAIN}"],
             simple_message("rcpt over"), xclient=xc)
    assert ei.value.smtp_code == 550
    assert b"5.7.1" in ei.value.smtp_error
    rec = m.record_for("rcpt over")
    assert rec["action"] == "rejected"
    assert "user mallory over 3 recipients" in rec["reason"]
    rej = events(m, "mail.rejected")
    assert len(rej) == 1 and rej[0]["user"] == "mallory"
    assert len(events(m, "mail.rate_limited")) == 1


def bulk(subject, to="bob@example.net", extra=()):
    return simple_message(subject, to=to,
                          extra=["Precedence: bulk"] + list(extra))


def test_suppressed_recipients_are_removed(world, milter):
    milter.gh("suppress", "add", "bob@example.net", "--reason", "asked")
    send(world.postfix.port, f"news@{DOMAIN}",
         ["bob@example.net", "carol@example.net"], bulk("bulk two"))
    _, rcpts, out = world.sink.find(b"Subject: bulk two")
    assert rcpts == ["carol@example.net"]
    rec = milter.record_for("bulk two")
    assert rec["suppressed"] == ["bob@example.net"]
    assert rec["rcpts"] == ["carol@example.net"]
    assert rec["bulk"] == "Precedence"
    assert mailenv.verify_all(out, milter.keys) == [True, True]


def test_all_suppressed_is_discarded(world, milter):
    milter.gh("suppress", "add", "bob@example.net")
    n = world.sink.count()
    assert send(world.postfix.port, f"news@{DOMAIN}", ["bob@example.net"],
                bulk("bulk none left")) == {}
    rec = milter.record_for("bulk none left")
    assert rec["action"] == "discarded"
    assert rec["reason"] == "every recipient has opted out"
    # a marker message afterwards arrives, the discarded one never did
    send(world.postfix.port, f"news@{DOMAIN}", ["carol@example.net"],
         simple_message("after discard"))
    world.sink.find(b"Subject: after discard")
    assert not any(b"bulk none left" in raw for _, _, raw in
                   world.sink.messages[n:])


def test_transactional_mail_is_never_suppressed(world, milter_factory):
    m = milter_factory(milter={"transactional_header": "X-Transactional",
                               "bulk_header": "X-Campaign"})
    m.gh("suppress", "add", "bob@example.net")
    # not bulk at all
    send(world.postfix.port, f"noreply@{DOMAIN}", ["bob@example.net"],
         simple_message("password reset"))
    assert world.sink.find(b"Subject: password reset")[1] == ["bob@example.net"]
    # marked bulk by a framework, but transactional
    send(world.postfix.port, f"noreply@{DOMAIN}", ["bob@example.net"],
         bulk("security notice", extra=["X-Transactional: yes"]))
    assert world.sink.find(b"Subject: security notice")[1] == ["bob@example.net"]
    # the configured bulk marker alone makes it bulk
    send(world.postfix.port, f"news@{DOMAIN}", ["bob@example.net"],
         simple_message("campaign", extra=["X-Campaign: spring"]))
    assert m.record_for("campaign")["action"] == "discarded"


def test_list_suppression_is_per_list(world, milter):
    milter.gh("suppress", "add", "bob@example.net", "--list", "news.example.org")
    send(world.postfix.port, f"news@{DOMAIN}", ["bob@example.net"],
         simple_message("news list", extra=["List-Id: News <news.example.org>"]))
    assert milter.record_for("news list")["action"] == "discarded"
    send(world.postfix.port, f"news@{DOMAIN}", ["bob@example.net"],
         simple_message("other list", extra=["List-Id: <other.example.org>"]))
    assert world.sink.find(b"Subject: other list")[1] == ["bob@example.net"]


@pytest.fixture
def unsub_milter(milter_factory, world):
    keyfile = world.base / f"token-{world.sink.count()}.key"
    m = milter_factory(
        milter={"unsubscribe_url": "https://example.org/unsubscribe"},
        extra=f"[tokens]\nkey_file = {keyfile}\nunsubscribe_ttl = 30d\n",
        start=False)
    m.gh("tokens", "keygen")
    m.start()
    return m


def test_list_unsubscribe_added_signed_and_valid(world, unsub_milter):
    m = unsub_milter
    send(world.postfix.port, f"news@{DOMAIN}", ["Bob@Example.NET"],
         simple_message("with unsub", to="Bob@Example.NET",
                        extra=["List-Id: News <news.example.org>"]))
    _, _, out = world.sink.find(b"Subject: with unsub")
    msg = mailenv.email.message_from_bytes(out)
    lu = msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert lu.startswith("<https://example.org/unsubscribe?t=") and \
        lu.endswith(">")
    token = urllib.parse.parse_qs(urllib.parse.urlparse(lu[1:-1]).query)["t"][0]
    p = m.gh("--json", "tokens", "check", "unsubscribe", token)
    info = json.loads(p.stdout)
    assert info["fields"] == ["bob@example.net", "news.example.org"]
    assert not info["expired"]
    # both new fields are signed (and oversigned), and verify
    for s in signatures(out):
        h = [x.lower() for x in s["h"].split(":")]
        assert h.count("list-unsubscribe") == 2
        assert h.count("list-unsubscribe-post") == 2
    assert mailenv.verify_all(out, m.keys) == [True, True]
    assert m.record_for("with unsub")["unsubscribe"] is True
    # tampering with the added field breaks the signatures
    bad = out.replace(b"unsubscribe?t=", b"unsubscribe?x=")
    assert mailenv.verify_all(bad, m.keys) == [False, False]


def test_list_unsubscribe_only_for_one_recipient_and_not_twice(world,
                                                               unsub_milter):
    m = unsub_milter
    send(world.postfix.port, f"news@{DOMAIN}",
         ["a@example.net", "b@example.net"], bulk("two rcpts"))
    out = world.sink.find(b"Subject: two rcpts")[2]
    assert b"\r\nList-Unsubscribe:" not in out
    assert m.record_for("two rcpts")["unsubscribe"] is False
    own = "List-Unsubscribe: <mailto:leave@example.org>"
    send(world.postfix.port, f"news@{DOMAIN}", ["a@example.net"],
         bulk("has its own", extra=[own]))
    out = world.sink.find(b"Subject: has its own")[2]
    assert out.count(b"\r\nList-Unsubscribe:") == 1
    assert b"mailto:leave@example.org" in out
    # not bulk: nothing added
    send(world.postfix.port, f"news@{DOMAIN}", ["a@example.net"],
         simple_message("plain one"))
    assert b"\r\nList-Unsubscribe:" not in \
        world.sink.find(b"Subject: plain one")[2]


def test_list_unsubscribe_signed_with_the_mail_key_file(world, milter_factory,
                                                        tmp_path):
    """[tokens] mail_key_file: the milter signs with the derived unsubscribe
    key alone, the master out of its reach, and the links verify with the
    master and with the web domain's file."""
    n = world.sink.count()
    key = world.base / f"token-{n}-master.key"
    mail, web = (world.base / f"token-{n}-mail.key",
                 world.base / f"token-{n}-web.key")
    m = milter_factory(
        milter={"unsubscribe_url": "https://example.org/unsubscribe"},
        extra=f"[tokens]\nkey_file = {key}\nmail_key_file = {mail}\n"
              f"web_key_file = {web}\n",
        start=False)
    m.gh("tokens", "keygen")
    master = key.read_text().strip()
    assert master not in mail.read_text()
    assert "download" not in mail.read_text()
    hidden = tmp_path / "master.key"
    key.rename(hidden)
    m.start()
    send(world.postfix.port, f"news@{DOMAIN}", ["dora@example.net"],
         bulk("mail key file"))
    _, _, out = world.sink.find(b"Subject: mail key file")
    lu = mailenv.email.message_from_bytes(out)["List-Unsubscribe"]
    token = urllib.parse.parse_qs(urllib.parse.urlparse(lu[1:-1]).query)["t"][0]
    for keyfile in (hidden, web):
        conf = tmp_path / "check.conf"
        conf.write_text(f"[tokens]\nkey_file = {keyfile}\n")
        p = subprocess.run([str(mailenv.GATEHOUSE), "-c", str(conf), "--json",
                            "tokens", "check", "unsubscribe", token],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (keyfile, p.stderr)
        assert json.loads(p.stdout)["fields"][0] == "dora@example.net"
    assert mailenv.verify_all(out, m.keys) == [True, True]
    # a file without the unsubscribe key: the milter says so and stops
    mail.write_text("download " + "ab" * 32 + "\n")
    m.stop()
    r = subprocess.run([str(mailenv.MILTER), "-t", "-c", str(m.conf)],
                       capture_output=True, text=True, timeout=60,
                       env=m.env())
    assert r.returncode == 78
    assert "mail_key_file" in r.stderr and "no unsubscribe key" in r.stderr, \
        r.stderr


# ------------------------------------------------ past the kept recipients
#
# The milter keeps the first 1000 recipients of a message (msg.h); the
# opt-out must still reach the ones after them, through sendmail(1)
# (non_smtpd_milters has no recipient limit) and through an smtpd whose
# smtpd_recipient_limit was raised.

KEPT = 1000        # GH_MSG_MAX_RCPTS
LISTED = 1000      # GH_MSG_MAX_LISTED


def many(prefix, n):
    return [f"{prefix}{i:04d}@example.net" for i in range(n)]


def delivered(world, m, subject, expect):
    """Every recipient the sink got the message for, once expect of them
    have arrived and Postfix holds nothing more of it."""
    marker = f"Subject: {subject}\r\n".encode()

    def got():
        with world.sink.lock:
            return [r for _, rcpts, raw in world.sink.messages
                    if marker in raw for r in rcpts]
    rec = m.record_for(subject)
    mailenv.wait_for(lambda: len(got()) >= expect, 40,
                     f"{expect} recipients of {subject!r}")
    mailenv.wait_for(lambda: not world.postfix.queued(rec["queue_id"]), 40,
                     f"{rec['queue_id']} to leave the queue")
    out = got()
    assert len(out) == len(set(out)), "a recipient got it twice"
    return set(out), rec


def opt_out_past_kept(m):
    """Recipients after the 1000th: two opted out (one of every list, one
    of this list), one opted out of another list only; and one of the first
    1000 opted out, as before."""
    rcpts = many("r", KEPT + 5)
    gone = [rcpts[7], rcpts[KEPT + 1], rcpts[KEPT + 3]]
    m.gh("suppress", "add", rcpts[7])
    m.gh("suppress", "add", rcpts[KEPT + 1])
    m.gh("suppress", "add", rcpts[KEPT + 3], "--list", "news.example.org")
    m.gh("suppress", "add", rcpts[KEPT + 2], "--list", "other.example.org")
    return rcpts, gone


def news(subject):
    return simple_message(subject, extra=["List-Id: News <news.example.org>"])


def check_past_kept(world, m, subject, rcpts, gone):
    got, rec = delivered(world, m, subject, len(rcpts) - len(gone))
    assert got == set(rcpts) - set(gone)
    assert rec["action"] == "accepted"
    assert rec["rcpt_count"] == len(rcpts)
    assert sorted(rec["suppressed"]) == sorted(gone)
    # the log lists the first 1000, not those kept only to be checked
    assert len(rec["rcpts"]) == KEPT - 1
    assert rcpts[KEPT + 2] not in rec["rcpts"]


def test_optout_past_kept_recipients_sendmail(world, milter):
    rcpts, gone = opt_out_past_kept(milter)
    world.postfix.sendmail(f"news@{DOMAIN}", rcpts, news("many by sendmail"))
    check_past_kept(world, milter, "many by sendmail", rcpts, gone)


def test_optout_past_kept_recipients_smtp(world, milter):
    rcpts, gone = opt_out_past_kept(milter)
    assert send(world.postfix.many_port, f"news@{DOMAIN}", rcpts,
                news("many by smtp")) == {}
    check_past_kept(world, milter, "many by smtp", rcpts, gone)


def test_too_many_listed_past_kept_get_452(world, milter):
    """Past the first 1000, at most 1000 opted-out recipients are kept to
    be removed; one more is refused with 452 4.5.3 (never let through),
    which the client sends again in another transaction."""
    first = many("f", KEPT)
    listed = many("l", LISTED + 1)
    for r in listed:
        milter.gh("suppress", "add", r)
    tail = many("t", 3)
    rcpts = first + listed + tail
    refused = send(world.postfix.many_port, f"news@{DOMAIN}", rcpts,
                   bulk("too many listed"))
    assert refused == {listed[-1]: (452, b"4.5.3 Too many recipients, send "
                                         b"the rest in another message")}
    got, rec = delivered(world, milter, "too many listed", KEPT + 3)
    assert got == set(first + tail)
    assert rec["rcpt_count"] == KEPT + LISTED + 3
    assert sorted(rec["suppressed"]) == listed[:-1]
    assert "452 4.5.3" in milter.log()
    # the client's retry is checked like any other message
    assert send(world.postfix.many_port, f"news@{DOMAIN}", [listed[-1]],
                bulk("too many listed, retry")) == {}
    assert milter.record_for("too many listed, retry")["action"] == \
        "discarded"
