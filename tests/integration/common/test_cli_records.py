"""The CLI reads the producers' records through their databases' headers
(common/include/gatehouse/maillog.h, uploads.h, knownhosts.h,
deliveries.h): every version a writer has used, and a record of a later
version left out with a word on stderr, not shown half-read.  The records
are written straight into the store with mdb_load, as older writers (or a
newer one) left them."""
import json
import struct
import subprocess


def _text(b):
    """mdb_load -T's plain text: printable bytes as they are, the rest
    (and the backslash) as a backslash and two hex digits."""
    return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else f"\\{c:02x}"
                   for c in b)


def load(store, db, records):
    """records: (key bytes, value: a dict or raw bytes) pairs."""
    lines = []
    for key, val in records:
        if isinstance(val, dict):
            val = json.dumps(val, separators=(",", ":")).encode()
        lines += [_text(key), _text(val)]
    subprocess.run(["mdb_load", "-T", "-s", db, str(store)],
                   input="\n".join(lines) + "\n", text=True, check=True,
                   capture_output=True)


def be64(n):
    return struct.pack(">Q", n)


def test_uploads_of_each_version(gh, store_dir):
    v1 = {"v": 1, "id": 1, "user": "alice", "original_name": "safe-v1.txt",
          "status": "stored", "scan": "clean", "size": 5, "category": "docs",
          "created_at": 1000, "updated_at": 1000}
    v2 = {"v": 2, "id": 2, "user": "bob", "original_name": "r\\x01.txt",
          "display_name": "r_.txt", "status": "rejected", "scan":
          "not_scanned", "reason": "type", "size": 7, "category": "",
          "created_at": 2000, "updated_at": 2000}
    v3 = {"v": 3, "id": 3, "user": "carol", "display_name": "future.txt",
          "status": "stored", "created_at": 3000}
    load(store_dir, "uploads", [(be64(1), v1), (be64(2), v2),
                                (be64(3), v3)])

    p = gh.run("uploads", "list")
    rows = p.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["2", "1"]
    assert "r_.txt" in rows[0] and "safe-v1.txt" in rows[1]
    assert "future" not in p.stdout
    assert "1 record not shown" in p.stderr
    listed = gh.run("uploads", "list", json_out=True)
    assert [u["id"] for u in listed] == [2, 1]

    # version 1: its original_name is the safe name, shown as display_name
    show = gh.run("uploads", "show", "1").stdout
    assert "display_name   safe-v1.txt" in show
    assert "original_name" not in show
    show = gh.run("uploads", "show", "2").stdout
    assert "display_name   r_.txt" in show
    assert "original_name  r\\x01.txt" in show
    p = gh.run("uploads", "show", "3", check=False)
    assert p.returncode != 0 and "newer" in p.stderr


def test_mail_log_skips_a_later_version(gh, store_dir):
    rec = {"v": 1, "id": 1, "queue_id": "4QAB", "sender": "a@example.org",
           "rcpts": ["b@example.net"], "action": "accepted",
           "started_at": 1000, "finished_at": 1001, "subject": "hi"}
    later = dict(rec, v=2, id=2, queue_id="4QCD")
    load(store_dir, "mail_log", [(be64(1), rec), (be64(2), later),
                                 (be64(3), b"not json")])
    p = gh.run("mail", "log")
    assert "4QAB" in p.stdout and "4QCD" not in p.stdout
    assert "2 records not shown" in p.stderr
    assert gh.run("mail", "show", "4QAB", json_out=True)["id"] == 1
    p = gh.run("mail", "show", "2", check=False)
    assert p.returncode != 0


def test_logins_and_deliveries(gh, store_dir):
    load(store_dir, "known_hosts", [
        (b"alice\x00192.0.2.0/24", {"v": 1, "first_seen": 1000,
                                     "last_seen": 2000, "count": 3,
                                     "addr": "192.0.2.7"}),
        (b"alice\x00198.51.100.0/24", b"not json"),
        (b"al\x00203.0.113.0/24", {"v": 1, "first_seen": 1, "last_seen": 1,
                                   "count": 1, "addr": "203.0.113.1"})])
    listed = gh.run("logins", "list", "--user", "alice", json_out=True)
    assert [(r["network"], r.get("count")) for r in listed] == [
        ("192.0.2.0/24", 3), ("198.51.100.0/24", None)]
    # forgetting a user takes the pair it cannot read too
    assert gh.run("logins", "forget", "alice",
                  json_out=True) == {"removed": 2}
    assert [r["user"] for r in gh.run("logins", "list", json_out=True)] == \
        ["al"]

    rec = {"channel": "mail", "recipient": "a@example.org", "state": "dead",
           "attempts": 3, "last_error": "550 no", "idempotency_key":
           "5:mail:a@example.org", "event": 5, "updated_at": 1000, "v": 1}
    load(store_dir, "deliveries", [
        (be64(5) + b"mail\x00a@example.org", rec),
        (be64(5) + b"mail\x00b@example.org", dict(rec, v=2)),
        (be64(6) + b"hook\x00*", dict(rec, channel="hook", recipient="*",
                                      state="delivered", event=6))])
    p = gh.run("deliveries", "list", "--failed")
    assert "a@example.org" in p.stdout and "b@example.org" not in p.stdout
    assert "550 no" in p.stdout
    assert "1 record not shown" in p.stderr
    rows = gh.run("deliveries", "list", "--event", "5", json_out=True)
    assert [r["recipient"] for r in rows] == ["a@example.org"]
