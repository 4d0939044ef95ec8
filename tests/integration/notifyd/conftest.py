"""Fixtures for gatehouse-notifyd's integration tests: a fresh store and
configuration with at most one running daemon (env), and local receivers
(http_sink, smtp_sink).  The helpers live in nd_support.py and
nd_sinks.py, named so that they never clash with other directories'
modules."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from nd_sinks import HttpSink, SmtpSink  # noqa: E402
from nd_support import Env  # noqa: E402


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
