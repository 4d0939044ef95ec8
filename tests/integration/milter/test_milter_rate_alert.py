"""A sender over its rate limit, end to end as the packages set it up: the
milter limits it through Postfix, and gatehouse-notifyd mails the
mail.rate_limited alert to [notifyd] admin_addresses (no [route.*]) through
the mail channel, here a local SMTP sink standing in for the local MTA.
The mail log shows what happened to the limited messages (tempfailed or
rejected, why), never "signed".
"""
import email
import json
import pathlib
import signal
import smtplib
import subprocess

import pytest

import mailenv
from mailenv import DOMAIN, send, simple_message, wait_for

from nd_sinks import SmtpSink
from nd_support import NOTIFYD, TEMPLATES

ADMIN = "hostmaster@admin.test"


def notifyd_conf(smtp, tmp):
    # the shipped configuration's shape: login_fallback, admin_addresses,
    # [channel.mail] to the local MTA, and no routes
    return ("[ratelimit]\nwindow = 1h\nsender_messages = 2\n{action}\n"
            "[notifyd]\nlog = stderr\nlog_level = debug\n"
            "poll_interval = 50ms\nshutdown_timeout = 10s\n"
            f"templates = {tmp / 'no-templates'}\n"
            f"shipped_templates = {TEMPLATES}\n"
            "default_channels = inbox\n"
            "login_fallback = local\nlogin_fallback_channel = mail\n"
            f"admin_addresses = {ADMIN}\n\n"
            f"[channel.mail]\ntype = smtp\nurl = {smtp.url()}\n"
            "from = gatehouse@localhost\nstarttls = no\n")


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.close()


@pytest.fixture
def notifyd():
    procs = []

    def start(conf, log):
        fp = open(log, "ab")
        p = subprocess.Popen([str(NOTIFYD), "-c", str(conf)], stdout=fp,
                             stderr=fp)
        procs.append((p, fp, log))
        return p

    yield start
    for p, fp, log in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        fp.close()
        text = pathlib.Path(log).read_text(errors="replace")
        assert "Sanitizer" not in text and "runtime error:" not in text, text


def limited(world, m, sender, code):
    for i in range(2):
        send(world.postfix.port, sender, ["bob@example.net"],
             simple_message(f"under {i}"))
    with pytest.raises(smtplib.SMTPDataError) as ei:
        send(world.postfix.port, sender, ["bob@example.net"],
             simple_message("over the limit"))
    assert ei.value.smtp_code == code
    return m.record_for("over the limit")


@pytest.mark.parametrize("action,code,outcome", [
    ("", 451, "tempfailed"), ("action = reject", 550, "rejected")])
def test_rate_alert_reaches_admin_addresses(world, milter_factory, smtp_sink,
                                            notifyd, tmp_path, action, code,
                                            outcome):
    m = milter_factory(start=False)
    extra = notifyd_conf(smtp_sink, tmp_path).replace("{action}", action)
    m.write_conf(extra=extra)
    m.start()
    sender = f"spammy@{DOMAIN}"
    rec = limited(world, m, sender, code)

    # the mail log: what happened to it, and why; not "signed"
    assert rec["action"] == outcome
    assert "rate limit: sender spammy@example.org" in rec["reason"]
    assert rec["signatures"] == []
    ok = m.record_for("under 0")
    assert ok["action"] == "accepted" and ok["signatures"]
    rows = m.gh("mail", "log", "--limit", "0").stdout.splitlines()
    row = next(r for r in rows if "over the limit" in r)
    assert f" {outcome} " in row and "signed" not in row, row
    assert "signed" in next(r for r in rows if "under 0" in r)
    shown = m.gh("mail", "show", str(rec["id"])).stdout
    assert f"action       {outcome}" in shown, shown
    assert "reason       rate limit: sender spammy@example.org" in shown
    assert "signature" not in shown, shown

    # notifyd, as packaged: the alert goes to admin_addresses by mail
    notifyd(m.conf, tmp_path / "notifyd.log")
    msg = wait_for(lambda: smtp_sink.got(), 30, "the alert at the sink")[0]
    assert msg["to"] == [ADMIN]
    parsed = email.message_from_bytes(msg["data"])
    assert parsed["Subject"] == \
        "Mail rate limit reached for spammy@example.org"
    body = "\n".join(part.get_payload(decode=True).decode()
                     for part in parsed.walk()
                     if part.get_content_type() == "text/plain")
    assert "Sender:    spammy@example.org" in body, body
    evs = [e for e in json.loads(m.gh("--json", "events", "list").stdout)
           if e["type"] == "mail.rate_limited"]
    assert len(evs) == 1
    eid = evs[0]["id"]

    def show():
        return json.loads(m.gh("--json", "events", "show", eid).stdout)

    wait_for(lambda: show()["q"]["state"] == "done", 30,
             "the alert's event to be done")
    # the admins only, not the sender
    assert [(d["channel"], d["recipient"], d["state"])
            for d in show()["deliveries"]] == [("mail", ADMIN, "delivered")]
