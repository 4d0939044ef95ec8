"""Fixtures for gatehouse-milter's integration tests (see mailenv.py).

  world   one Postfix instance and one sink for the whole session (starting
          Postfix takes seconds; the milters change per test)
  milter  a fresh milter per test: its own store, key directory and
          configuration, two keys (RSA 2048 and Ed25519) for example.org,
          listening where Postfix looks for it; stopped after the test, and
          the test fails if ASan or UBSan reported anything
"""
import os
import pathlib
import shutil
import tempfile

import pytest

import mailenv


def _need(path):
    if not pathlib.Path(path).exists():
        pytest.fail(f"not built (run `make check-programs`): {path}")


@pytest.fixture(scope="session")
def world():
    _need(mailenv.MILTER)
    _need(mailenv.GATEHOUSE)
    if shutil.which("postfix") is None:
        pytest.fail("postfix is not installed (scripts/install-deps)")
    base = pathlib.Path(tempfile.mkdtemp(prefix="gh-milter-", dir="/tmp"))
    os.chmod(base, 0o755)
    w = mailenv.World(base)
    try:
        w.start()
        yield w
    finally:
        try:
            w.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def milter_factory(world, tmp_path):
    """Make milters (usually one) for a test; all are stopped afterwards."""
    made = []

    def make(start=True, keys=(("rsa1", "rsa"), ("ed1", "ed25519")),
             init=True, **conf):
        base = world.base / f"m-{os.getpid()}-{len(os.listdir(world.base))}"
        base.mkdir()
        os.chmod(base, 0o755)
        m = mailenv.Milter(base, world.milter_port, world.milter_sock)
        made.append(m)
        for sel, kind in keys:
            m.add_key(sel, kind)
        m.write_conf(**conf)
        if init:
            m.init_store()
        if start:
            m.start()
        return m

    yield make
    problems = []
    for m in made:
        m.stop()
        problems += m.asan_reports()
    assert not problems, "sanitizer reports:\n" + "\n".join(problems)


@pytest.fixture
def milter(milter_factory):
    return milter_factory()
