"""The gatehouse command against a real store: what an admin types."""
import os
import re
import subprocess
import time
import unicodedata

import pytest

from ghtest import BUILD, GATEHOUSE, ROOT, Gatehouse

# Writes records as a producer would (tests/integration/pam_notify/storetool.c).
STORETOOL = BUILD / "tests" / "integration" / "pam_notify" / "storetool"


def test_store_missing_says_what_to_do(conf_file):
    g = Gatehouse(conf_file)
    p = g.run("store", "info", check=False)
    assert p.returncode == 66
    assert "gatehouse store init" in p.stderr


def test_enqueue_list_show(gh):
    out = gh.run("events", "enqueue", "--user", "alice", "--type",
                 "login.new_host", "--title", "New sign-in", "--message",
                 "from 192.0.2.7", "--priority", "high", "--metadata",
                 '{"ip": "192.0.2.7"}', json_out=True)
    assert out == {"id": 1, "duplicate": False}
    ev = gh.run("events", "show", "1", json_out=True)
    assert ev["type"] == "login.new_host"
    assert ev["category"] == "security"
    assert ev["priority"] == 3
    assert ev["source"] == "cli"
    assert ev["metadata"] == {"ip": "192.0.2.7"}
    assert ev["q"]["state"] == "ready"
    assert ev["deliveries"] == []
    listed = gh.run("events", "list", "--state", "ready", json_out=True)
    assert [e["id"] for e in listed] == [1]
    text = gh.run("events", "list").stdout
    assert re.search(r"^1\s+ready\s+3\s+login\.new_host\s+alice", text, re.M)


def test_dedup_and_expiry(gh):
    a = gh.run("events", "enqueue", "--user", "u", "--type", "t", "--title",
               "x", "--dedup-key", "k", json_out=True)
    b = gh.run("events", "enqueue", "--user", "u", "--type", "t", "--title",
               "x", "--dedup-key", "k", json_out=True)
    assert a["id"] == b["id"] and b["duplicate"] is True
    gh.run("events", "enqueue", "--user", "u", "--type", "t", "--title", "x",
           "--expires", "2h")
    ev = gh.run("events", "show", "2", json_out=True)
    assert ev["expires_at"] - ev["created_at"] == 2 * 3600 * 1000


def test_bad_input_exit_codes(gh):
    p = gh.run("events", "enqueue", "--user", "u", "--type", "Bad Type",
               "--title", "x", check=False)
    assert p.returncode == 65 and "type" in p.stderr
    p = gh.run("events", "enqueue", "--user", "u", "--type", "t", check=False)
    assert p.returncode == 65 and "title" in p.stderr
    p = gh.run("events", "enqueue", "--type", "t", "--title", "x",
               "--priority", "9", check=False)
    assert p.returncode == 64 and "priority" in p.stderr
    p = gh.run("events", "show", "42", check=False)
    assert p.returncode == 1 and "no event 42" in p.stderr
    p = gh.run("frobnicate", check=False)
    assert p.returncode == 64
    p = gh.run("events", "list", "--state", "bogus", check=False)
    assert p.returncode == 64


def test_retry_and_purge(gh, store_dir):
    gh.run("events", "enqueue", "--user", "u", "--type", "t", "--title", "x")
    p = gh.run("events", "retry", "1")
    assert "already queued" in p.stderr
    # Nothing finished yet: purge removes nothing and never ready events.
    assert gh.run("events", "purge", "--older-than", "0s",
                  json_out=True) == {"purged": 0}
    assert gh.run("events", "show", "1", json_out=True)["q"]["state"] == "ready"


def test_config_check_names_file_line_key(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[store]\npath = /tmp/x\n\nmap_size = huge\n")
    p = subprocess.run([str(GATEHOUSE), "-c", str(bad), "config", "check"],
                       capture_output=True, text=True)
    assert p.returncode == 78
    assert f"{bad}:4: key 'map_size' in [store]: 'huge' is not a size" in p.stderr
    p = subprocess.run([str(GATEHOUSE), "-c", str(tmp_path / "none.conf"),
                        "config", "check"], capture_output=True, text=True)
    assert p.returncode == 66


def test_gatehouse_conf_env(tmp_path, conf_file):
    env = dict(os.environ, GATEHOUSE_CONF=str(conf_file))
    p = subprocess.run([str(GATEHOUSE), "store", "init"], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert str(tmp_path / "store") in p.stdout


def schema_keys():
    p = subprocess.run([str(GATEHOUSE), "-c", str(ROOT / "conf/gatehouse.conf"),
                        "config", "dump", "--json"], capture_output=True,
                       text=True, check=True)
    import json
    return [(k["section"], k["key"]) for k in json.loads(p.stdout)]


def test_sample_conf_and_man_page_document_every_key():
    sample = (ROOT / "conf/gatehouse.conf").read_text()
    man = (ROOT / "docs/man/gatehouse.conf.5").read_text()
    # dump parses the file as every program does; check would also look
    # for the host's stores, users and keys, which a build host lacks
    p = subprocess.run([str(GATEHOUSE), "-c", str(ROOT / "conf/gatehouse.conf"),
                        "config", "dump"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    section = None
    in_sample = set()
    for line in sample.splitlines():
        m = re.match(r"^#?\s*\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^#?\s*([a-z_0-9]+)\s*=", line)
        if m and section:
            in_sample.add((section, m.group(1)))
    for sec, key in schema_keys():
        assert (sec, key) in in_sample, f"conf/gatehouse.conf lacks [{sec}] {key}"
        assert re.search(rf"\b{re.escape(key)}\b", man), \
            f"gatehouse.conf(5) lacks {key}"


def test_lease_and_ack_from_a_script(gh):
    for i in range(3):
        gh.run("events", "enqueue", "--user", "u", "--type", "t", "--title",
               f"n{i}", "--priority", "urgent" if i == 2 else "normal")
    lines = gh.run("events", "lease", "--max", "2").stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("3:")          # urgent first
    handles = [line.split()[0] for line in lines]
    gh.run("events", "ack", *handles)
    done = gh.run("events", "list", "--state", "done", json_out=True)
    assert sorted(e["id"] for e in done) == [2, 3] or \
        sorted(e["id"] for e in done) == [1, 3]
    # Acking again: the lease is no longer held.
    p = gh.run("events", "ack", handles[0], check=False)
    assert p.returncode == 1 and "lease lost" in p.stderr
    p = gh.run("events", "ack", "nonsense", check=False)
    assert p.returncode == 64


def test_tokens(gh, tmp_path):
    key = tmp_path / "token.key"
    with open(gh.conf, "a") as f:
        f.write(f"[tokens]\nkey_file = {key}\n")
    p = gh.run("tokens", "make", "unsubscribe", "a@example.org", "news",
               check=False)
    assert p.returncode == 66 and str(key) in p.stderr
    p = gh.run("tokens", "keygen")
    # as root with no [store] owner: root's alone, and a note says so
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "[store] owner is not set" in p.stderr
    assert len(key.read_text().strip()) == 64
    assert gh.run("tokens", "keygen", check=False).returncode == 64
    tok = gh.run("tokens", "make", "unsubscribe", "a@example.org",
                 "news").stdout.strip()
    out = gh.run("tokens", "check", "unsubscribe", tok, json_out=True)
    assert out["fields"] == ["a@example.org", "news"]
    assert out["expired"] is False
    p = gh.run("tokens", "check", "download", tok, check=False)
    assert p.returncode == 65 and "signature does not match" in p.stderr
    # A rotation: the old key becomes previous_key_file.
    old = tmp_path / "token.key.old"
    key.rename(old)
    with open(gh.conf, "a") as f:
        f.write(f"previous_key_file = {old}\n")
    gh.run("tokens", "keygen")
    assert gh.run("tokens", "check", "unsubscribe", tok,
                  json_out=True)["fields"][0] == "a@example.org"
    old.write_text("00" * 32 + "\n")
    assert gh.run("tokens", "check", "unsubscribe", tok,
                  check=False).returncode == 65


def test_tokens_download_link(gh, tmp_path):
    """With [tokens] base_url, `tokens make download` prints the whole link
    the nginx module checks (base_url + download_path + ID?t=TOKEN); without
    it, the token alone, as before."""
    key = tmp_path / "token.key"
    with open(gh.conf, "a") as f:
        f.write(f"[tokens]\nkey_file = {key}\n")
    gh.run("tokens", "keygen")
    tok = gh.run("tokens", "make", "download", "42", "alice").stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", tok), tok
    assert gh.run("tokens", "check", "download", tok,
                  json_out=True)["fields"] == ["42", "alice"]
    base = gh.conf.read_text()
    # a trailing slash on the base is not doubled; /dl/ is the default path
    gh.conf.write_text(base + "base_url = https://files.example.org/\n")
    url = gh.run("tokens", "make", "download", "42", "alice").stdout.strip()
    m = re.fullmatch(r"https://files\.example\.org/dl/42\?t=([A-Za-z0-9_-]+)",
                     url)
    assert m, url
    assert gh.run("tokens", "check", "download", m.group(1),
                  json_out=True)["fields"] == ["42", "alice"]
    # unsubscribe tokens are not download links
    assert "://" not in gh.run("tokens", "make", "unsubscribe",
                               "a@example.org", "news").stdout
    # the location is configurable, with a path prefix on the base
    gh.conf.write_text(base + "base_url = https://example.org/app\n"
                       "download_path = /files\n")
    url = gh.run("tokens", "make", "download", "7").stdout.strip()
    assert url.startswith("https://example.org/app/files/7?t="), url
    # a link needs an upload id the module can read
    p = gh.run("tokens", "make", "download", "abc", check=False)
    assert p.returncode == 64 and "upload id" in p.stderr
    # and a base that is a URL
    gh.conf.write_text(base + "base_url = files.example.org\n")
    p = gh.run("tokens", "make", "download", "7", check=False)
    assert p.returncode == 78 and "base_url" in p.stderr


def key_lines(path):
    """A purpose key file's keys, by name."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, hexkey = line.split()
            out[name] = hexkey
    return out


def test_tokens_domain_key_files(tmp_path):
    """keygen and derive write the domains' key files (docs/tokens.md):
    derived keys only, each for root and its domain's group, and they make
    and check what they should."""
    import grp
    import pwd
    d = tmp_path / "etc"
    d.mkdir()
    key, old = d / "token.key", d / "token.key.old"
    mail, web = d / "token-mail.key", d / "token-web.key"
    conf = tmp_path / "gatehouse.conf"
    owners = ("[store]\nowner = daemon\nmail_owner = nobody\n"
              "web_owner = www-data\n")
    tokens = (f"[tokens]\nkey_file = {key}\nmail_key_file = {mail}\n"
              f"web_key_file = {web}\n")
    conf.write_text(owners + tokens)
    g = Gatehouse(conf)
    p = g.run("tokens", "keygen")
    assert "note" not in p.stderr, p.stderr
    for path, user in ((key, "daemon"), (mail, "nobody"), (web, "www-data")):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (0, pwd.getpwnam(user).pw_gid), path
        assert oct(st.st_mode & 0o777) == "0o640", path
    # no temporary file left behind
    assert sorted(os.listdir(d)) == ["token-mail.key", "token-web.key",
                                     "token.key"]
    master = key.read_text().strip()
    assert list(key_lines(mail)) == ["unsubscribe"]
    assert list(key_lines(web)) == ["unsubscribe", "download"]
    assert key_lines(mail)["unsubscribe"] == key_lines(web)["unsubscribe"]
    for f in (mail, web):
        assert master not in f.read_text()

    def with_key(path, extra=""):
        c = tmp_path / f"{path.name}.conf"
        c.write_text(f"[tokens]\nkey_file = {path}\n{extra}")
        return Gatehouse(c)
    as_mail, as_web = with_key(mail), with_key(web)
    # the mail file signs unsubscribe links, and nothing else
    u = as_mail.run("tokens", "make", "unsubscribe", "a@example.org",
                    "news").stdout.strip()
    for who in (g, as_web, as_mail):
        assert who.run("tokens", "check", "unsubscribe", u,
                       json_out=True)["fields"] == ["a@example.org", "news"]
    p = as_mail.run("tokens", "make", "download", "7", check=False)
    assert p.returncode == 77 and "has no download key" in p.stderr
    # the web file checks the master's download links, not the mail's
    dl = g.run("tokens", "make", "download", "7", "bob").stdout.strip()
    assert as_web.run("tokens", "check", "download", dl,
                      json_out=True)["fields"] == ["7", "bob"]
    p = as_mail.run("tokens", "check", "download", dl, check=False)
    assert p.returncode == 65
    assert g.run("tokens", "check", "download", as_web.run(
        "tokens", "make", "download", "8").stdout.strip(),
        json_out=True)["fields"] == ["8"]

    # a rotation: the web file gets the old keys as .previous lines
    first_web = key_lines(web)
    key.rename(old)
    conf.write_text(owners + tokens + f"previous_key_file = {old}\n")
    g.run("tokens", "keygen")
    now_web = key_lines(web)
    assert list(now_web) == ["unsubscribe", "download",
                             "unsubscribe.previous", "download.previous"]
    assert now_web["unsubscribe.previous"] == first_web["unsubscribe"]
    assert now_web["download.previous"] == first_web["download"]
    assert now_web["unsubscribe"] != first_web["unsubscribe"]
    assert list(key_lines(mail)) == ["unsubscribe"]
    assert key_lines(mail)["unsubscribe"] == now_web["unsubscribe"]
    assert as_web.run("tokens", "check", "unsubscribe", u,
                      json_out=True)["fields"][0] == "a@example.org"
    assert as_mail.run("tokens", "check", "unsubscribe", u,
                       check=False).returncode == 65

    # derive, from the master there is: the rotation over, owners unset
    old.unlink()
    conf.write_text("[store]\nweb_owner = no-such-user-here\n" + tokens)
    web.unlink()
    # what is planted at the file's name is replaced, never followed
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    web.symlink_to(victim)
    before = key.read_text()
    p = g.run("tokens", "derive")
    assert key.read_text() == before
    assert victim.read_text() == "keep\n"
    assert not web.is_symlink()
    assert list(key_lines(web)) == ["unsubscribe", "download"]
    assert key_lines(web)["unsubscribe"] == now_web["unsubscribe"]
    assert "[store] mail_owner is not set" in p.stderr
    assert "'no-such-user-here': no such user" in p.stderr
    for path in (mail, web):
        st = path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o600)
    assert g.run("tokens", "derive", "now", check=False).returncode == 64

    # refusals: no domain file configured; one that is the master itself;
    # a master that is not one
    conf.write_text(f"[tokens]\nkey_file = {key}\n")
    p = g.run("tokens", "derive", check=False)
    assert p.returncode == 78 and "mail_key_file" in p.stderr
    conf.write_text(f"[tokens]\nkey_file = {key}\nweb_key_file = {key}\n")
    p = g.run("tokens", "derive", check=False)
    assert p.returncode == 78 and "a file of its own" in p.stderr
    assert key.read_text() == before
    conf.write_text(f"[tokens]\nkey_file = {web}\nmail_key_file = {mail}\n")
    p = g.run("tokens", "derive", check=False)
    assert p.returncode == 78 and "not a master key" in p.stderr
    assert grp.getgrgid(0).gr_name == "root"


def test_suppress(gh):
    gh.run("suppress", "add", "<Bob@Example.org>", "--list", "news",
           "--reason", "asked by phone")
    gh.run("suppress", "add", "carol@example.org")
    assert gh.run("suppress", "check", "bob@example.org", "--list",
                  "news").returncode == 0
    assert gh.run("suppress", "check", "bob@example.org", "--list", "promo",
                  check=False).returncode == 1
    assert gh.run("suppress", "check", "carol@example.org", "--list",
                  "any").returncode == 0
    rows = gh.run("suppress", "list", json_out=True)
    assert [r["address"] for r in rows] == ["bob@example.org", "carol@example.org"]
    assert rows[0]["reason"] == "asked by phone" and rows[0]["source"] == "cli"
    gh.run("suppress", "remove", "bob@example.org", "--list", "news")
    p = gh.run("suppress", "remove", "bob@example.org", "--list", "news",
               check=False)
    assert p.returncode == 1 and "not suppressed" in p.stderr
    assert gh.run("suppress", "add", "not-an-address",
                  check=False).returncode == 64


def run_bytes(g, *args):
    """The command's stdout and stderr as bytes: what a terminal gets."""
    return subprocess.run([str(GATEHOUSE), "-c", str(g.conf)] + list(args),
                          capture_output=True, timeout=60)


def assert_terminal_safe(out):
    """No byte of out can drive or fool a terminal: lines are the only
    controls, the rest is UTF-8 without C1 controls, bidi controls or
    other format characters."""
    for line in out.split(b"\n"):
        bad = [b for b in line if b < 0x20 or b == 0x7F]
        assert not bad, f"control bytes {bad} in {line!r}"
        text = line.decode("utf-8")   # strict: raises on a stray byte
        for ch in text:
            assert not 0x80 <= ord(ch) <= 0x9F, f"C1 control in {line!r}"
            assert unicodedata.category(ch) not in ("Cf", "Zl", "Zp"), \
                f"U+{ord(ch):04X} in {line!r}"


# What a producer may put in a title, a message, a user name: clear the
# screen, set the window title, move up and rewrite the line above, an
# 8-bit CSI, a right-to-left override, an isolate, a zero-width space.
HOSTILE_TITLE = "A\x1b[2J\u202eB\u009b31m\u2066C\tD\nE\u200b"
HOSTILE_MESSAGE = "m\r\x1b[1A\x1b[2Kfake line\x7f"
HOSTILE_USER = "ev\x1b]0;owned\x07il"


def test_human_output_escapes_controls(gh):
    gh.run("events", "enqueue", "--user", HOSTILE_USER, "--type", "t",
           "--title", HOSTILE_TITLE, "--message", HOSTILE_MESSAGE,
           "--metadata", '{"k": "\\u202e\\u0085"}')
    listed = run_bytes(gh, "events", "list")
    assert listed.returncode == 0, listed.stderr
    assert_terminal_safe(listed.stdout)
    assert len(listed.stdout.splitlines()) == 2      # header, one event
    row = listed.stdout.splitlines()[1]
    assert b"ev\\x1b]0;owned\\x07il" in row
    assert row.endswith(b"A\\x1b[2J\\u{202e}B\\u{009b}31m\\u{2066}C\\tD"
                        b"\\nE\\u{200b}")
    shown = run_bytes(gh, "events", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert_terminal_safe(shown.stdout)
    lines = shown.stdout.decode().splitlines()
    assert "title:       A\\x1b[2J\\u{202e}B\\u{009b}31m\\u{2066}C\\tD" \
        "\\nE\\u{200b}" in lines
    assert "message:     m\\r\\x1b[1A\\x1b[2Kfake line\\x7f" in lines
    assert "user:        ev\\x1b]0;owned\\x07il" in lines
    assert any(l.startswith("metadata:") and "\\u{202e}\\u{0085}" in l
               for l in lines)
    # --json is for programs: the exact value, JSON-escaped
    ev = gh.run("events", "show", "1", json_out=True)
    assert ev["title"] == HOSTILE_TITLE and ev["user"] == HOSTILE_USER
    assert "\x1b" not in gh.run("--json", "events", "list").stdout
    # an error message that echoes what it was given
    bad = run_bytes(gh, "events", "list", "--state", "\x1b[2J")
    assert bad.returncode == 64
    assert b"'\\x1b[2J'" in bad.stderr
    assert_terminal_safe(bad.stderr)


def test_human_output_escapes_bytes_that_are_not_utf8(gh, store_dir):
    """A known_hosts key is the user name as raw bytes: invalid UTF-8 and a
    bare 0x9b CSI byte reach the command as they are."""
    if not STORETOOL.exists():
        pytest.fail(f"{STORETOOL} not built (run `make check-programs`)")
    user = b"ma\xff\x9b2J\x1b[2Jx\xe2\x80\xaeyz\xe2\x80"
    now = int(time.time() * 1000)
    rec = ('{"addr": "192.0.2.7", "count": 1, "first_seen": %d, '
           '"last_seen": %d}' % (now, now))
    subprocess.run([str(STORETOOL), "put", str(store_dir), "known_hosts",
                    rec, user, b"192.0.2.0/24"], check=True, timeout=30)
    listed = run_bytes(gh, "logins", "list")
    assert listed.returncode == 0, listed.stderr
    assert_terminal_safe(listed.stdout)
    assert (b"ma\\xff\\x9b2J\\x1b[2Jx\\u{202e}yz\\xe2\\x80 "
            b"192.0.2.0/24") in listed.stdout
