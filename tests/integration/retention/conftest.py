"""Fixtures for the retention tests: notifyd's test environment (a fresh
store and configuration, at most one running daemon with the injectable
clock; tests/integration/lib/nd_support.py)."""

import pytest

from nd_sinks import SmtpSink
from nd_support import Env


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
