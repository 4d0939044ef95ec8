"""The upload directory's own troubles, for real: a file system that is
full (a 2 MiB tmpfs mounted as gatehouse_upload_dir) answers 507
insufficient_storage, raises one upload.storage_full event for the admins
per condition and logs once when space runs out and once when it is back;
a DIR/.incoming removed while nginx runs is made again, and something
else sitting in its place is refused with a clear log line."""
import errno
import os
import pathlib
import pwd
import shutil
import stat
import subprocess

import pytest

from ngx_support import WORKER_USER, wait_for
from gh_http import multipart, part, png_bytes, post

SERVER = """\
        location = /upload {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
        }}
"""

FULL = "is full: uploads are refused with 507"
BACK = "has space again: uploads are accepted"


def events(n, kind="upload.storage_full"):
    import json
    return [e for e in json.loads(n.gh("--json", "events", "list").stdout)
            if e["type"] == kind]


def fill(d):
    """Write d/filler until the file system says it is full."""
    fd = os.open(d / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)


def upload(n, name="x.png"):
    return post(n.port, "/upload", multipart([part("f", png_bytes(2000),
                                                    name)]))


@pytest.fixture
def small_fs(nginx_conf):
    """nginx whose upload directory is a 2 MiB tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    n = nginx_conf
    pw = pwd.getpwnam(WORKER_USER)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    f"size=2m,mode=0750,uid={pw.pw_uid},gid={pw.pw_gid}",
                    "tmpfs", str(n.uploads)], check=True)
    try:
        n.write(http=f"    gatehouse_conf {n.ghconf};\n",
                server=SERVER.format(uploads=n.uploads))
        n.start()
        yield n
    finally:
        n.stop()
        if subprocess.run(["umount", str(n.uploads)]).returncode != 0:
            subprocess.run(["umount", "-l", str(n.uploads)])


def test_full_disk_is_507_one_event_and_two_log_lines(small_fs):
    n = small_fs
    r = upload(n)
    assert r.status == 201, r

    fill(n.uploads)
    for i in range(3):
        r = upload(n, f"full{i}.png")
        assert r.status == 507, r
        a = r.json()
        assert a["error"] == "insufficient_storage" and a["status"] == 507
        assert "no space left" in a["message"]
    assert n.incoming() == []
    # the refused upload's record says why
    rec = wait_for(lambda: [x for x in n.records()
                            if x["display_name"] == "full0.png"],
                   "the record")[0]
    assert rec["status"] == "rejected"
    assert rec["reason"] == "insufficient_storage"

    ev = wait_for(lambda: events(n), "the upload.storage_full event")
    assert len(ev) == 1, ev
    ev = ev[0]
    assert ev["category"] == "system" and ev["recipients"] == ["admins"]
    assert ev["source"] == "nginx" and ev["priority"] == 3
    assert ev["metadata"]["dir"] == str(n.uploads)
    assert ev["dedup_key"].startswith("upload.storage_full:")
    assert str(n.uploads) in ev["message"]
    log = n.error_log()
    assert log.count(FULL) == 1, log
    assert "write() to" not in log          # no crit line per upload

    # space is back: accepted again, logged once
    os.unlink(n.uploads / "filler")
    r = upload(n)
    assert r.status == 201, r
    r = upload(n)
    assert r.status == 201, r
    wait_for(lambda: BACK in n.error_log(), "the space-is-back log line")
    assert n.error_log().count(BACK) == 1
    assert len(events(n)) == 1

    # full again later: a new condition, a new event
    fill(n.uploads)
    r = upload(n)
    assert r.status == 507, r
    wait_for(lambda: len(events(n)) == 2, "a second event")
    assert n.error_log().count(FULL) == 2
    os.unlink(n.uploads / "filler")


@pytest.fixture
def plain(nginx_conf):
    n = nginx_conf
    n.write(http=f"    gatehouse_conf {n.ghconf};\n",
            server=SERVER.format(uploads=n.uploads))
    n.start()
    return n


def test_incoming_removed_while_running_is_made_again(plain):
    n = plain
    inc = n.uploads / ".incoming"
    assert upload(n).status == 201
    shutil.rmtree(inc)
    r = upload(n)
    assert r.status == 201, r
    st = os.lstat(inc)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    if os.geteuid() == 0:
        assert st.st_uid == pwd.getpwnam(WORKER_USER).pw_uid
    assert '".incoming" was missing: made again' in n.error_log() or \
        "/.incoming\" was missing: made again" in n.error_log()
    assert upload(n).status == 201


@pytest.mark.parametrize("what", ["symlink", "file"])
def test_something_else_in_place_of_incoming_is_refused(plain, what):
    n = plain
    n.log_allow = ("is not a directory",)
    inc = n.uploads / ".incoming"
    shutil.rmtree(inc)
    if what == "symlink":
        # a link (dangling here) is never followed nor replaced
        inc.symlink_to(n.uploads / "elsewhere")
    else:
        inc.write_text("not a directory")
    r = upload(n)
    assert r.status == 500, r
    assert r.json()["error"] == "internal_error"
    kind = "a symbolic link" if what == "symlink" else "another file"
    assert f'is not a directory ({kind}): uploads are refused' \
        in n.error_log()
    assert not (n.uploads / "elsewhere").exists()
    # removed: the next upload makes the directory again
    inc.unlink()
    assert upload(n).status == 201
    assert pathlib.Path(inc).is_dir() and not inc.is_symlink()
