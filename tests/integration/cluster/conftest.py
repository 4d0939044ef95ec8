"""Fixtures of the multi-host tests (cl_support.py): a three-node
JetStream cluster, simulated hosts, notifyd instances and a webhook sink
(tests/integration/notifyd/nd_sinks.py)."""
import pathlib
import shutil
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cl_support import NATS_SERVER, Host, NatsCluster, Notifyd  # noqa: E402
from nd_sinks import HttpSink  # noqa: E402


@pytest.fixture
def nats(tmp_path):
    if not pathlib.Path(NATS_SERVER).exists():
        pytest.fail("nats-server is not installed (make deps)")
    c = NatsCluster(tmp_path / "nats")
    c.start()
    yield c
    c.close()


@pytest.fixture
def sink():
    s = HttpSink()
    yield s
    s.close()


@pytest.fixture
def world(tmp_path, nats, sink):
    """make_host(name) and make_notifyd(name), all closed at the end."""
    made = []

    class World:
        cluster = nats

        def host(self, name, **kw):
            h = Host(tmp_path, name, nats, **kw)
            made.append(h)
            return h

        def notifyd(self, name, **kw):
            n = Notifyd(tmp_path, name, nats, sink, **kw)
            made.append(n)
            return n

    w = World()
    w.sink = sink
    yield w
    for m in made:
        if isinstance(m, Notifyd):
            m.kill()
            text = m.text()
            assert "Sanitizer" not in text and "runtime error:" not in text
        else:
            m.close()
