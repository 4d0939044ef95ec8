"""Fixtures of the hostile-producer suite: the users once per session, a
fresh SecEnv per test (secenv.py)."""
import shutil
import pathlib
import tempfile

import pytest

import secenv


@pytest.fixture(scope="session", autouse=True)
def users():
    secenv.make_users()
    yield
    secenv.remove_users()


@pytest.fixture
def sec():
    # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700, and the
    # domains' users must reach their stores.
    base = tempfile.mkdtemp(prefix="ghsec-")
    env = secenv.SecEnv(base)
    try:
        yield env
    finally:
        env.close()
        shutil.rmtree(base, ignore_errors=True)
