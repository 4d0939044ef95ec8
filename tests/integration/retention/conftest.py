"""Fixtures for the retention tests: notifyd's test environment (a fresh
store and configuration, at most one running daemon with the injectable
clock; tests/integration/notifyd/nd_support.py)."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] /
                       "notifyd"))
from nd_sinks import SmtpSink  # noqa: E402
from nd_support import Env  # noqa: E402


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    if e.proc is not None:
        e.kill()
    text = e.log_text()
    assert "Sanitizer" not in text and "runtime error:" not in text, \
        e.log_tail(40)


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.close()
