"""Shared fixtures for Gatehouse's integration tests.

Tests run from the repository root with the programs built under build/
(`make check` builds them first).  Every test gets a fresh store and a
configuration file pointing at it, under pytest's tmp_path.  Helpers that
tests import live in tests/integration/lib (ghtest.py and the parts' own),
which pytest.ini puts on the import path.
"""
import pytest

from ghtest import Gatehouse


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def conf_file(tmp_path, store_dir):
    conf = tmp_path / "gatehouse.conf"
    conf.write_text(f"[store]\npath = {store_dir}\nlock_timeout = 10s\n")
    return conf


@pytest.fixture
def gh(conf_file):
    g = Gatehouse(conf_file)
    g.run("store", "init")
    return g
