"""Fixtures for gatehouse-notifyd's integration tests: a fresh store and
configuration with at most one running daemon (env), and local receivers
(http_sink, smtp_sink).  The helpers live in tests/integration/lib,
nd_support.py and nd_sinks.py."""

import pytest

from nd_sinks import HttpSink, SmtpSink
from nd_support import Env


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    if e.proc is not None:
        e.kill()
    # with NOTIFYD_BIN pointing at the sanitizer build, any report fails
    text = e.log_text()
    assert "Sanitizer" not in text and "runtime error:" not in text, \
        e.log_tail(40)


@pytest.fixture
def http_sink():
    s = HttpSink()
    yield s
    s.close()


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.close()
