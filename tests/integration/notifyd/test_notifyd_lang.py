"""Users' own language: `gatehouse users set --lang`, [notifyd]
default_language and the templates of each language (templates/ko/...),
through a real notifyd and a local SMTP sink, with the shipped templates
of this tree.  The mail is parsed back with Python's email package, so
the RFC 2047 subject and the body's charset and transfer encoding are
checked by a decoder that is not ours."""
import base64
import datetime
import email
import email.header
import email.policy
import json
import re
from zoneinfo import ZoneInfo

from nd_support import TEMPLATES, wait_until
from nd_sinks import HttpSink  # noqa: F401  (fixture type)

META = ('{"host": "web1", "addr": "192.0.2.9", '
        '"network": "192.0.2.0/24", "service": "sshd"}')
KO_SUBJECT = "새 기기에서 web1에 로그인했습니다 (192.0.2.9)"
EN_SUBJECT = "New sign-in to web1 from 192.0.2.9"


def smtp_channel(sink, name="mail"):
    return (f"[channel.{name}]\ntype = smtp\nurl = {sink.url()}\n"
            f"from = notify@example.org\nbackoff_base = 100ms\n"
            f"backoff_cap = 200ms\nstarttls = no\n\n")


def new_host(env, user):
    return env.gh("events", "enqueue", "--user", user, "--type",
                  "login.new_host", "--title", "New sign-in",
                  "--metadata", META, json_out=True)["id"]


def mail_to(sink, addr):
    for m in sink.got():
        if addr in m["to"]:
            return m
    return None


def wait_mail(sink, addr):
    return wait_until(lambda: mail_to(sink, addr), 30, f"mail to {addr}")


def parse(m):
    return email.message_from_bytes(m["data"], policy=email.policy.default)


def raw_headers(m):
    return m["data"].split(b"\r\n\r\n", 1)[0].decode("ascii")


def raw_subject(m):
    """The Subject header as sent, unfolded: encoded words and all."""
    h = raw_headers(m)
    s = re.search(r"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", h, re.M | re.I)
    assert s, h
    return s.group(1)


def check_encoded_subject(m, want):
    """RFC 2047: every encoded-word UTF-8, at most 75 characters, whole
    characters each (it decodes alone), and lines within 76."""
    raw = raw_subject(m)
    lines = raw.split("\r\n")
    assert len("Subject: ") + len(lines[0]) <= 76, raw
    for line in lines[1:]:
        assert len(line) <= 76, raw
    words = re.findall(r"=\?[^?]+\?[BbQq]\?[^?]*\?=", raw)
    assert words, raw
    for w in words:
        assert len(w) <= 75, w
        assert w.lower().startswith(("=?utf-8?b?", "=?utf-8?q?")), w
        [(b, cs)] = email.header.decode_header(w)
        b.decode(cs)     # each word holds whole characters
    got = str(email.header.make_header(email.header.decode_header(
        raw.replace("\r\n", ""))))
    assert got == want
    assert parse(m)["Subject"] == want


def body_part(msg, subtype):
    part = msg.get_body((subtype,))
    assert part.get_content_charset() == "utf-8"
    assert part["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
    return part.get_content()


def test_korean_english_fallback_and_default(env, smtp_sink):
    """ko gets the Korean subject and bodies; pt-BR (no templates) and no
    language at all get English; the language shows in users show."""
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", shipped=TEMPLATES)
    env.gh("users", "set", "minji", "--email", "minji@example.org",
           "--name", "김민지", "--lang", "ko")
    env.gh("users", "set", "joao", "--email", "joao@example.org",
           "--lang", "PT-br")
    env.gh("users", "set", "ann", "--email", "ann@example.org")
    assert env.gh("users", "show", "minji", json_out=True)["lang"] == "ko"
    # stored in its canonical case
    assert env.gh("users", "show", "joao", json_out=True)["lang"] == "pt-BR"
    assert "lang" not in env.gh("users", "show", "ann", json_out=True)
    out = env.gh("users", "show", "ann").stdout
    assert re.search(r"^lang: +- \(default_language: en\)$", out, re.M), out
    assert re.search(r"^lang: +ko$", env.gh("users", "show", "minji").stdout,
                     re.M)
    ids = [new_host(env, u) for u in ("minji", "joao", "ann")]
    env.start()
    for e in ids:
        env.wait_state(e)

    m = wait_mail(smtp_sink, "minji@example.org")
    check_encoded_subject(m, KO_SUBJECT)
    msg = parse(m)
    text = body_part(msg, "plain")
    html = body_part(msg, "html")
    assert text.startswith("김민지님, 안녕하세요.")
    assert "minji 계정으로 web1에 로그인했습니다" in text
    assert "192.0.2.0/24" in text
    assert '<html lang="ko">' in html and "<b>web1</b>에 로그인했습니다" in html

    for addr in ("joao@example.org", "ann@example.org"):
        msg = parse(wait_mail(smtp_sink, addr))
        assert msg["Subject"] == EN_SUBJECT, (addr, [
            (x["to"], parse(x)["Subject"]) for x in smtp_sink.got()])
        text = msg.get_body(("plain",)).get_content()
        assert "Someone signed in to web1" in text
        assert not re.search("[\uac00-\ud7a3]", text)
    env.stop()


def test_site_default_language(env, smtp_sink):
    """default_language = ko: users without a language (and pt-BR, which
    has no templates) get Korean; en users still get English."""
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\ndefault_language = ko\n",
                   shipped=TEMPLATES)
    env.gh("users", "set", "a", "--email", "a@example.org")
    env.gh("users", "set", "b", "--email", "b@example.org", "--lang", "pt-BR")
    env.gh("users", "set", "c", "--email", "c@example.org", "--lang", "en")
    ids = [new_host(env, u) for u in ("a", "b", "c")]
    env.start()
    for e in ids:
        env.wait_state(e)
    assert parse(wait_mail(smtp_sink, "a@example.org"))["Subject"] == KO_SUBJECT
    assert parse(wait_mail(smtp_sink, "b@example.org"))["Subject"] == KO_SUBJECT
    assert parse(wait_mail(smtp_sink, "c@example.org"))["Subject"] == EN_SUBJECT
    env.stop()


def test_admin_override_for_a_language(env, smtp_sink):
    """An /etc-style templates/ko/ file wins over the shipped ko one, the
    other ko files stay shipped, and English users are not affected."""
    etc = env.tmp / "etc-templates"
    (etc / "ko").mkdir(parents=True)
    (etc / "ko" / "login.new_host.subject").write_text(
        "[사내 보안] {{user}} 로그인 알림\n")
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", templates=etc,
                   shipped=TEMPLATES)
    env.gh("users", "set", "minji", "--email", "minji@example.org",
           "--lang", "ko")
    env.gh("users", "set", "ann", "--email", "ann@example.org")
    ids = [new_host(env, u) for u in ("minji", "ann")]
    env.start()
    for e in ids:
        env.wait_state(e)
    m = wait_mail(smtp_sink, "minji@example.org")
    check_encoded_subject(m, "[사내 보안] minji 로그인 알림")
    assert "minji 계정으로 web1에 로그인했습니다" in \
        parse(m).get_body(("plain",)).get_content()
    assert parse(wait_mail(smtp_sink, "ann@example.org"))["Subject"] == \
        EN_SUBJECT
    env.stop()


def test_long_korean_subject_is_folded(env, smtp_sink):
    """A subject far longer than one encoded-word: several words, each
    within 75 characters, decoding back to the whole subject."""
    etc = env.tmp / "etc-templates"
    (etc / "ko").mkdir(parents=True)
    (etc / "ko" / "app.long.subject").write_text("{{title}}\n")
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", templates=etc)
    env.gh("users", "set", "minji", "--email", "minji@example.org",
           "--lang", "ko")
    title = ("보안 알림: 새 기기에서 로그인했습니다. 본인이 아니라면 지금 "
             "비밀번호를 바꾸고 관리자에게 알리세요. ") * 3
    title = title.strip()
    eid = env.notify("minji", title, "app.long")
    env.start()
    env.wait_state(eid)
    m = wait_mail(smtp_sink, "minji@example.org")
    check_encoded_subject(m, title)
    assert len(re.findall(r"=\?", raw_subject(m))) >= 4
    env.stop()


def test_korean_sms_text(env, http_sink):
    """Other channels use the language too: the SMS text template."""
    env.write_conf(
        f"[channel.sms]\ntype = sms\nurl = {http_sink.url('/smsj')}\n"
        f"format = json\ntoken = t\n\n",
        notifyd="default_channels = sms\n", shipped=TEMPLATES)
    env.gh("users", "set", "minji", "--phone", "+821012345678", "--lang", "ko")
    env.gh("users", "set", "ann", "--phone", "+15551234567")
    ids = [new_host(env, u) for u in ("minji", "ann")]
    env.start()
    for e in ids:
        env.wait_state(e)
    bodies = {}
    for r in http_sink.got("/smsj"):
        j = json.loads(r["body"])
        bodies[j["to"]] = j
    ko = json.dumps(bodies["+821012345678"], ensure_ascii=False)
    assert "[Gatehouse] minji 계정이 web1에 새 기기(192.0.2.9)에서 로그인했습니다" \
        in ko, ko
    en = json.dumps(bodies["+15551234567"], ensure_ascii=False)
    assert "new sign-in as ann on web1" in en, en
    env.stop()


def ms(dt):
    return int(dt.timestamp() * 1000)


def test_korean_digest(env, smtp_sink):
    """The digest is in the user's language too."""
    tz = "Asia/Seoul"
    z = ZoneInfo(tz)
    d = datetime.datetime.now(z).date() + datetime.timedelta(days=3)
    t0 = datetime.datetime(d.year, d.month, d.day, 10, 0, tzinfo=z)
    slot = t0 + datetime.timedelta(days=1) - datetime.timedelta(hours=2)
    env.write_conf(smtp_channel(smtp_sink),
                   notifyd="default_channels = mail\n", shipped=TEMPLATES)
    env.gh("users", "set", "cho", "--email", "cho@example.org", "--tz", tz,
           "--lang", "ko")
    env.gh("prefs", "set", "cho", "--category", "social=digest",
           "--digest", "daily@08:00")
    env.start(clock=ms(t0))
    a = env.notify("cho", "Dana liked your photo", "social.like",
                   "--category", "social")
    b = env.notify("cho", "Eli commented", "social.comment",
                   "--category", "social")
    for e in (a, b):
        env.wait_state(e)

    def deferred_digest():
        x = [e for e in env.gh("events", "list", "--state", "ready",
                               json_out=True) if e["type"] == "digest"]
        return x and x[0]["q"]["leases"] > 0 and x

    dg = wait_until(deferred_digest, 20, "the digest to be deferred")
    env.set_clock(ms(slot))
    env.wait_state(dg[0]["id"])
    m = wait_mail(smtp_sink, "cho@example.org")
    check_encoded_subject(m, "알림 요약: 새 알림 2건")
    text = body_part(parse(m), "plain")
    assert "지난 요약 이후 읽지 않은 알림이 2건 있습니다." in text
    assert "Dana liked your photo" in text and "Eli commented" in text
    env.stop()


def test_lang_cli_refuses_and_clears(env):
    """A tag that is not one is refused before anything is written; '' and
    default remove the language; --unset lang too."""
    env.gh("users", "set", "u", "--email", "u@example.org", "--lang", "ko")
    for bad in ("../x", "ko/../../etc", "k", "pt_BR", "ko.", "x" * 40,
                "한국어", "ko-", "..", "/ko"):
        p = env.gh("users", "set", "u", "--lang", bad, check=False)
        assert p.returncode == 65, (bad, p.stderr)
        assert "is not a language tag" in p.stderr and "pt-BR" in p.stderr
        assert env.gh("users", "show", "u", json_out=True)["lang"] == "ko"
    # nothing of a refused set is written, even its valid options
    p = env.gh("users", "set", "u", "--name", "New", "--lang", "../x",
               check=False)
    assert p.returncode == 65
    assert "name" not in env.gh("users", "show", "u", json_out=True)
    env.gh("users", "set", "u", "--lang", "")
    assert "lang" not in env.gh("users", "show", "u", json_out=True)
    env.gh("users", "set", "u", "--lang", "zh-hant-tw")
    assert env.gh("users", "show", "u", json_out=True)["lang"] == "zh-Hant-TW"
    env.gh("users", "set", "u", "--lang", "default")
    assert "lang" not in env.gh("users", "show", "u", json_out=True)
    env.gh("users", "set", "u", "--lang", "ko")
    env.gh("users", "set", "u", "--unset", "lang")
    assert "lang" not in env.gh("users", "show", "u", json_out=True)


def test_bad_default_language_is_a_config_error(env):
    env.write_conf("", notifyd="default_language = ../ko\n")
    p = env.start()
    assert p.wait(30) != 0
    assert "default_language" in env.log_text()


def test_every_english_template_has_a_korean_one():
    """So that a new event type cannot ship without its Korean text."""
    en = {p.name for p in TEMPLATES.iterdir() if p.is_file()}
    ko = {p.name for p in (TEMPLATES / "ko").iterdir() if p.is_file()}
    assert en, TEMPLATES
    assert sorted(en - ko) == [], "missing Korean templates"
    assert sorted(ko - en) == [], "Korean templates without an English one"
    for name in ko:
        text = (TEMPLATES / "ko" / name).read_text(encoding="utf-8")
        assert re.search("[\uac00-\ud7a3]", text), f"ko/{name} is not Korean"
