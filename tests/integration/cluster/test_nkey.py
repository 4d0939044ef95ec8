"""`gatehouse cluster nkey`: the seed file it writes (new, 0600, its
owner's), the public key it prints (the same pair nkeys.py computes from
that seed), and a real nats-server accepting the key as an nkey user."""
import base64
import json
import os
import pathlib
import pwd
import stat

import pytest

from cl_support import NATS_SERVER, NatsCluster
from ghtest import GATEHOUSE, Gatehouse
from nkeys import user_pair
import subprocess


def nkey(*args):
    return subprocess.run([str(GATEHOUSE), "cluster", "nkey", *map(str, args)],
                          capture_output=True, text=True, timeout=30)


def raw_seed(seed):
    b = base64.b32decode(seed + "=" * (-len(seed) % 8))
    return b[2:34]


def test_the_seed_file_and_the_public_key(tmp_path):
    out = tmp_path / "web.nk"
    p = nkey("--out", out, "--owner", "nobody")
    assert p.returncode == 0, p.stderr
    pub = p.stdout.strip()
    seed = out.read_text().strip()
    # the pair nkeys.py (the tests' own encoder) makes from the same seed
    assert user_pair(raw_seed(seed)) == (seed, pub)
    assert seed.startswith("SU") and len(seed) == 58
    assert pub.startswith("U") and len(pub) == 56
    st = os.lstat(out)
    assert stat.S_IMODE(st.st_mode) == 0o600
    nobody = pwd.getpwnam("nobody")
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    # never overwritten, never through a link; a new key each time
    p = nkey("--out", out)
    assert p.returncode == 78 and "exists" in p.stderr
    assert out.read_text().strip() == seed
    target = tmp_path / "target"
    (tmp_path / "link").symlink_to(target)
    p = nkey("--out", tmp_path / "link")
    assert p.returncode != 0 and not target.exists()
    p = nkey("--out", tmp_path / "other.nk", "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["public_key"] != pub and j["seed_file"].endswith("other.nk")
    # bad input: a clear error, no file
    p = nkey("--out", tmp_path / "x.nk", "--owner", "no-such-user-gh")
    assert p.returncode == 67 and not (tmp_path / "x.nk").exists()
    assert nkey().returncode == 64
    # a directory others may change: refused before any file is made
    # (a name swapped there could make the cleanup unlink another's file)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    p = nkey("--out", shared / "web.nk")
    assert p.returncode == 77 and "writable by others" in p.stderr
    assert not (shared / "web.nk").exists()
    os.chown(shared, nobody.pw_uid, nobody.pw_gid)
    shared.chmod(0o755)
    p = nkey("--out", shared / "web.nk")
    assert p.returncode == 77 and not (shared / "web.nk").exists()
    assert nkey("--out", tmp_path / "y.nk", "extra").returncode == 64


def test_a_real_server_accepts_the_key(tmp_path):
    if not pathlib.Path(NATS_SERVER).exists():
        pytest.fail("nats-server is not installed (make deps)")
    c = NatsCluster(tmp_path / "nats")
    # the core's user: a key made by the CLI, not by nkeys.py
    core = tmp_path / "nats" / "keys" / "core.nk"
    core.unlink()
    p = nkey("--out", core)
    assert p.returncode == 0, p.stderr
    c.keys["core"] = (None, p.stdout.strip(), core)
    for node in c.nodes:
        c._write_conf(node)
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {tmp_path / 'store'}\n\n" +
                    c.nats_conf("n1"))
    c.start()
    try:
        st = Gatehouse(conf).run("cluster", "status", json_out=True)
        assert st["connected_url"].startswith("nats://127.0.0.1:")
        # and a key the servers do not know is refused: the check above
        # is the server's, not a formality
        stranger = tmp_path / "stranger"
        stranger.mkdir()
        assert nkey("--out", stranger / "core.nk").returncode == 0
        conf2 = tmp_path / "stranger.conf"
        conf2.write_text(f"[store]\npath = {tmp_path / 'store'}\n\n" +
                         c.nats_conf("n1", stranger / "%d.nk"))
        p = Gatehouse(conf2).run("cluster", "status", check=False)
        assert p.returncode == 75, p.stderr
    finally:
        c.close()
