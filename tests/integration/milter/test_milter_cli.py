"""The gatehouse command's mail side: `dkim keygen|rotate|list`,
`dns records` and `mail log|show`, against a running milter and Postfix.
"""
import json
import os
import re
import stat
import subprocess
import time

import mailenv
from mailenv import DOMAIN, send, signatures, simple_message


def txt_of(out):
    """The record text of `dkim keygen`'s zone line, strings joined."""
    line = [ln for ln in out.splitlines() if "IN TXT" in ln][0]
    parts = line.split('"')[1::2]
    return line.split()[0], "".join(parts)


def test_keygen(milter_factory, tmp_path):
    m = milter_factory(keys=(), start=False)
    p = m.gh("dkim", "keygen", "--domain", "Example.ORG", "--selector", "k1")
    key = m.keydir / DOMAIN / "k1.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    name, txt = txt_of(p.stdout)
    assert name == f"k1._domainkey.{DOMAIN}."
    assert txt.encode() == mailenv.dns_txt(key)
    assert "rsa, 2048 bits" in p.stdout
    p = m.gh("--json", "dkim", "keygen", "--domain", DOMAIN, "--selector",
             "k2", "--type", "ed25519")
    j = json.loads(p.stdout)
    assert j["type"] == "ed25519" and j["name"] == f"k2._domainkey.{DOMAIN}"
    assert j["txt"].encode() == mailenv.dns_txt(m.keydir / DOMAIN / "k2.key")
    p = m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "k3",
             "--bits", "3072")
    assert "3072 bits" in p.stdout
    # never silently replaced
    p = m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "k1",
             check=False)
    assert p.returncode == 64 and "exists" in p.stderr
    for bad in (["--domain", "bad domain", "--selector", "x"],
                ["--domain", DOMAIN, "--selector", "a;b"],
                ["--domain", DOMAIN, "--selector", "x", "--type", "dsa"],
                ["--domain", DOMAIN, "--selector", "x", "--bits", "512"],
                ["--domain", DOMAIN]):
        assert m.gh("dkim", "keygen", *bad, check=False).returncode == 64
    out = tmp_path / "elsewhere.key"
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "o",
         "--type", "ed25519", "--out", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lst = json.loads(m.gh("--json", "dkim", "list").stdout)
    assert sorted(k["selector"] for k in lst) == ["k1", "k2", "k3"]
    assert {k["state"] for k in lst} == {"active"}


def test_dns_records(milter_factory):
    m = milter_factory(start=False)
    recs = json.loads(m.gh("--json", "dns", "records", DOMAIN).stdout)
    by = {r["purpose"]: r for r in recs if r["purpose"] != "DKIM"}
    assert by["SPF"]["name"] == DOMAIN
    assert by["SPF"]["value"].startswith("v=spf1 ")
    assert by["DMARC"]["name"] == f"_dmarc.{DOMAIN}"
    assert by["DMARC"]["value"].startswith("v=DMARC1; p=none")
    dk = {r["name"]: r["value"].encode() for r in recs
          if r["purpose"] == "DKIM"}
    assert dk == {n.rstrip("."): t for n, t in m.keys.records.items()}
    text = m.gh("dns", "records", DOMAIN).stdout
    assert f"_dmarc.{DOMAIN}. IN TXT" in text
    assert f"rsa1._domainkey.{DOMAIN}. IN TXT" in text


def sels(raw):
    return sorted(s["s"] for s in signatures(raw))


def test_rotation_without_a_gap(world, milter_factory):
    m = milter_factory(keys=(), start=False)
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "old-r")
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "old-e",
         "--type", "ed25519")
    for s in ("old-r", "old-e"):
        m.keys.add(s, DOMAIN, m.keydir / DOMAIN / f"{s}.key")
    m.start()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("before rotate"))
    assert sels(world.sink.find(b"Subject: before rotate")[2]) == \
        ["old-e", "old-r"]

    # rotate: new RSA + Ed25519 keys, the old ones retire in an hour; the
    # command signals the milter through its pid file
    p = m.gh("dkim", "rotate", "--domain", DOMAIN, "--grace", "1h")
    assert "told to reload" in p.stdout
    mailenv.wait_for(lambda: "reloaded: configuration 2" in m.log(), 20,
                     "the milter to reload")
    new = sorted(k["selector"] for k in
                 json.loads(m.gh("--json", "dkim", "list").stdout)
                 if k["state"] == "active")
    assert len(new) == 2 and all(s[0] in "re" for s in new)
    for s in new:
        m.keys.add(s, DOMAIN, m.keydir / DOMAIN / f"{s}.key")
        assert f"{s}._domainkey.{DOMAIN}. IN TXT" in p.stdout
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("during grace"))
    out = world.sink.find(b"Subject: during grace")[2]
    assert sels(out) == sorted(new + ["old-e", "old-r"])
    assert mailenv.verify_all(out, m.keys) == [True] * 4

    # the grace period over: the milter compares each message's time with
    # the retire times it loaded (rotate's reload); here we move them to
    # now instead of waiting an hour, and reload to make it read them
    for s in ("old-r", "old-e"):
        (m.keydir / DOMAIN / f"{s}.retire").write_text(f"{int(time.time())}\n")
    m.reload()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("after grace"))
    out = world.sink.find(b"Subject: after grace")[2]
    assert sels(out) == new
    assert mailenv.verify_all(out, m.keys) == [True, True]
    states = {k["selector"]: k["state"] for k in
              json.loads(m.gh("--json", "dkim", "list").stdout)}
    assert states["old-r"] == "retired"
    # their records are still needed ([dkim] retire_grace, 7 days): a
    # rotation leaves them where they are
    p = m.gh("dkim", "rotate", "--domain", DOMAIN, "--type", "ed25519",
             "--no-reload")
    assert "moved" not in p.stdout
    assert (m.keydir / DOMAIN / "old-r.key").exists()
    # once the grace period is over, the next rotation archives them
    for s in ("old-r", "old-e"):
        (m.keydir / DOMAIN / f"{s}.retire").write_text(
            f"{int(time.time()) - 8 * 86400}\n")
    p = m.gh("dkim", "rotate", "--domain", DOMAIN, "--type", "rsa",
             "--no-reload")
    assert "moved retired key old-r" in p.stdout
    assert (m.keydir / DOMAIN / "retired" / "old-r.key").exists()
    assert not (m.keydir / DOMAIN / "old-e.key").exists()
    # archived and past its grace: neither listed nor published
    assert "old-r" not in m.gh("dkim", "list").stdout
    assert "old-r" not in m.gh("dns", "records", DOMAIN).stdout


def key_bits(path):
    """An RSA key's size, as openssl reads it (not our code)."""
    out = subprocess.run(["openssl", "pkey", "-in", str(path), "-noout",
                          "-text"], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"Private-Key: \((\d+) bit", out)
    return int(m.group(1))


def ring_of(recs):
    """A key ring holding exactly the DKIM records of `dns records --json`."""
    ring = mailenv.KeyRing()
    for r in recs:
        if r["purpose"] == "DKIM":
            ring.records[r["name"] + "."] = r["value"].encode()
    return ring


def test_dns_records_keep_retired_keys_through_the_grace_period(
        world, milter_factory):
    """Mail signed just before a rotation verifies against what `dns
    records` prints during [dkim] retire_grace; after it, the retired keys'
    records are said to be removable, without another rotate.  A rotated
    1024-bit RSA key becomes a 2048-bit one ([dkim] rsa_bits default)."""
    # a grace period long enough for a loaded machine, shortened below
    grace = 3600
    m = milter_factory(keys=(), start=False,
                       dkim={"retire_grace": f"{grace}s"})
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "old-r",
         "--bits", "1024")
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "old-e",
         "--type", "ed25519")
    assert key_bits(m.keydir / DOMAIN / "old-r.key") == 1024
    m.start()
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("signed just before rotation"))
    before = world.sink.find(b"Subject: signed just before rotation")[2]
    assert sels(before) == ["old-e", "old-r"]

    # the old keys stop signing at once (--grace 0); their records must
    # stay published retire_grace longer
    p = m.gh("dkim", "rotate", "--domain", DOMAIN, "--grace", "0")
    mailenv.wait_for(lambda: "reloaded: configuration 2" in m.log(), 20,
                     "the milter to reload")
    keys = json.loads(m.gh("--json", "dkim", "list").stdout)
    new = sorted(k["selector"] for k in keys if k["state"] == "active")
    assert len(new) == 2
    new_r = [k for k in keys if k["state"] == "active" and k["type"] == "rsa"]
    assert new_r[0]["bits"] == 2048
    assert key_bits(m.keydir / DOMAIN / f"{new_r[0]['selector']}.key") == 2048
    old = {k["selector"]: k for k in keys if k["selector"].startswith("old")}
    assert {k["state"] for k in old.values()} == {"retired"}
    keep = old["old-r"]["keep_until"]
    assert keep == old["old-r"]["retire_at"] + grace
    keep_txt = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(keep))
    assert f"published until {keep_txt}" in p.stdout

    # during the grace period: the new and the retired keys, with the time
    recs = json.loads(m.gh("--json", "dns", "records", DOMAIN).stdout)
    text = m.gh("dns", "records", DOMAIN).stdout
    assert time.time() < keep, "too slow: the grace period ended already"
    dk = {r["name"]: r for r in recs if r["purpose"] == "DKIM"}
    assert sorted(dk) == sorted(f"{s}._domainkey.{DOMAIN}"
                                for s in new + ["old-e", "old-r"])
    for s in ("old-r", "old-e"):
        r = dk[f"{s}._domainkey.{DOMAIN}"]
        assert r["state"] == "retired" and r["keep_until"] == keep
        assert r["value"].encode() == mailenv.dns_txt(m.keydir / DOMAIN /
                                                      f"{s}.key")
        assert re.search(rf"^; {s}: retired .*; keep publishing until "
                         rf"{keep_txt}$", text, re.M), text
        assert f"{s}._domainkey.{DOMAIN}. IN TXT" in text
    for s in new:
        assert dk[f"{s}._domainkey.{DOMAIN}"]["state"] == "active"
    # what was signed just before verifies against exactly these records
    # (and not against the active keys' alone: the test can fail)
    assert mailenv.verify_all(before, ring_of(recs)) == [True, True]
    active_only = [r for r in recs if r.get("state") != "retired"]
    assert mailenv.verify_all(before, ring_of(active_only)) == [False, False]
    # mail now is signed by the new keys only
    send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
         simple_message("signed after rotation"))
    after = world.sink.find(b"Subject: signed after rotation")[2]
    assert sels(after) == new
    assert mailenv.verify_all(after, ring_of(recs)) == [True, True]

    # a grace period that ends 3 seconds from now; it passes, nothing
    # else runs (no rotate, no reload)
    retire_at = old["old-r"]["retire_at"]
    short = int(time.time()) - retire_at + 3
    m.write_conf(dkim={"retire_grace": f"{short}s"})
    keep = retire_at + short
    assert {k["selector"]: k for k in json.loads(
        m.gh("--json", "dkim", "list").stdout)}["old-r"]["keep_until"] == keep
    time.sleep(max(0.0, keep - time.time()) + 1.1)
    recs = json.loads(m.gh("--json", "dns", "records", DOMAIN).stdout)
    text = m.gh("dns", "records", DOMAIN).stdout
    assert sorted(r["name"] for r in recs if r["purpose"] == "DKIM") == \
        sorted(f"{s}._domainkey.{DOMAIN}" for s in new)
    for s in ("old-r", "old-e"):
        assert f"{s}._domainkey.{DOMAIN}. IN TXT" not in text
        assert re.search(rf"^; {s}: retired .*: this record can be removed$",
                         text, re.M), text
    states = {k["selector"]: k["state"] for k in
              json.loads(m.gh("--json", "dkim", "list").stdout)}
    assert states["old-r"] == states["old-e"] == "removable"
    assert (m.keydir / DOMAIN / "old-r.key").exists()   # no rotate ran


def test_rotate_errors(milter_factory):
    m = milter_factory(keys=(), start=False)
    p = m.gh("dkim", "rotate", "--domain", "nokeys.test", check=False)
    assert p.returncode == 1 and "no active" in p.stderr
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "a")
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "b",
         "--type", "ed25519")
    p = m.gh("dkim", "rotate", "--domain", DOMAIN, "--selector", "x",
             check=False)
    assert p.returncode == 64 and "--type" in p.stderr


def test_mail_log_filters_and_show(world, milter):
    send(world.postfix.port, f"ann@{DOMAIN}", ["x1@example.net"],
         simple_message("log one"))
    send(world.postfix.port, f"ben@{DOMAIN}",
         ["x2@example.net", "x3@example.net"], simple_message("log two"))
    milter.gh("suppress", "add", "x4@example.net")
    send(world.postfix.port, f"ben@{DOMAIN}", ["x4@example.net"],
         simple_message("log three", extra=["Precedence: bulk"]))
    milter.record_for("log three")
    assert [r["subject"] for r in milter.mail_log("--sender", f"BEN@{DOMAIN}")] \
        == ["log three", "log two"]
    assert [r["subject"] for r in milter.mail_log("--rcpt", "x3@example.net")] \
        == ["log two"]
    # a suppressed recipient still finds its message
    assert [r["subject"] for r in milter.mail_log("--rcpt", "x4@example.net")] \
        == ["log three"]
    assert [r["subject"] for r in milter.mail_log("--status", "discarded")] \
        == ["log three"]
    assert len(milter.mail_log("--since", "1h")) == 3
    assert milter.mail_log("--since", "2000-01-01") != []
    assert milter.mail_log("--since", "2999-01-01T00:00:00Z") == []
    lim = milter.gh("--json", "mail", "log", "--limit", "1")
    assert len(json.loads(lim.stdout)) == 1
    table = milter.gh("mail", "log").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "TIME", "QUEUE-ID", "ACTION"]
    assert len(table) == 4 and "signed" in table[3]
    rec = milter.record_for("log two")
    shown = json.loads(milter.gh("--json", "mail", "show",
                                 str(rec["id"])).stdout)
    assert shown == rec
    text = milter.gh("mail", "show", rec["queue_id"]).stdout
    assert "rcpt         x2@example.net" in text
    assert "rcpt         x3@example.net" in text
    p = milter.gh("mail", "show", "99999", check=False)
    assert p.returncode == 1
    for bad in (["--status", "weird"], ["--since", "yesterday"],
                ["--limit", "x"]):
        assert milter.gh("mail", "log", *bad, check=False).returncode == 64


def test_keygen_as_root_gives_keys_to_the_milter_group(milter_factory):
    """Run as root, keys are root:<the milter user's group> 0640 in 0750
    directories of that group: the milter (here nobody) reads them and
    can change none; another user (www-data) cannot read them."""
    import pwd
    import subprocess
    nobody = pwd.getpwnam("nobody")
    m = milter_factory(keys=(), start=False, milter={"user": "nobody"})
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "g1",
         "--type", "ed25519")
    key = m.keydir / DOMAIN / "g1.key"
    for p, mode in ((m.keydir, 0o750), (m.keydir / DOMAIN, 0o750),
                    (key, 0o640)):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (0, nobody.pw_gid), p
        assert stat.S_IMODE(st.st_mode) == mode, p

    def as_user(user, *cmd):
        pw = pwd.getpwnam(user)
        return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}",
                               f"--regid={pw.pw_gid}", "--clear-groups",
                               "--", *map(str, cmd)], capture_output=True)
    assert as_user("nobody", "cat", key).returncode == 0
    assert as_user("nobody", "sh", "-c", f"echo x >> {key}").returncode != 0
    assert as_user("www-data", "cat", key).returncode != 0


def test_dns_records_keys_archived_before_their_grace_ended(milter_factory):
    """Keys an earlier rotate moved to retired/ at their retire time (as
    versions before [dkim] retire_grace did) are published until their
    grace period ends all the same; archived for longer, they are history:
    neither listed nor mentioned."""
    m = milter_factory(keys=(), start=False)
    m.gh("dkim", "keygen", "--domain", DOMAIN, "--selector", "cur",
         "--type", "ed25519")
    rdir = m.keydir / DOMAIN / "retired"
    rdir.mkdir()
    now = int(time.time())
    for sel, ago in (("recent", 3600), ("ancient", 30 * 86400)):
        mailenv.make_key(rdir / f"{sel}.key", "ed25519")
        (rdir / f"{sel}.retire").write_text(f"{now - ago}\n")
    recs = json.loads(m.gh("--json", "dns", "records", DOMAIN).stdout)
    dk = {r["name"].split(".")[0]: r for r in recs if r["purpose"] == "DKIM"}
    assert sorted(dk) == ["cur", "recent"]
    assert dk["recent"]["state"] == "retired"
    assert dk["recent"]["keep_until"] == now - 3600 + 7 * 86400
    assert dk["recent"]["value"].encode() == mailenv.dns_txt(
        rdir / "recent.key")
    text = m.gh("dns", "records", DOMAIN).stdout
    assert "ancient" not in text
    assert "; recent: retired " in text
    lst = {k["selector"]: k["state"] for k in
           json.loads(m.gh("--json", "dkim", "list").stdout)}
    assert lst == {"cur": "active", "recent": "retired"}


def test_mail_log_escapes_odd_header_bytes(world, milter):
    """Header bytes that are not UTF-8, control characters and '\\' are
    kept in the mail log escaped by libgatehouse's one rule (docs/events.md,
    "Untrusted text"), as the PAM and nginx modules store them: never '?'."""
    raw = mailenv.message([
        f"From: Joe <joe@{DOMAIN}>".encode(), b"To: bob@example.net",
        b"Subject: caf\xe9 \x01 C:\\dir odd-bytes",
        f"Message-ID: <odd.bytes@{DOMAIN}>".encode(),
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000"])
    send(world.postfix.port, f"ann@{DOMAIN}", ["x1@example.net"], raw)
    want = "caf\\xe9 \\x01 C:\\\\dir odd-bytes"
    rec = milter.record_for(want)
    assert rec["subject"] == want
    assert rec["message_id"] == f"<odd.bytes@{DOMAIN}>"
