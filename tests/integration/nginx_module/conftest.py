"""pytest fixtures of the nginx module's tests: nginx_conf (an nginx the
test configures) and nginx (a running one with the upload locations).  The
helpers the tests import live in tests/integration/lib/ngx_support.py."""
import pytest

from ngx_support import UPLOAD_SERVER, Nginx, check_log


@pytest.fixture
def nginx_conf():
    """An Nginx whose configuration the test writes and checks with -t,
    or starts itself (log_allow: error log lines the test provokes)."""
    n = Nginx()
    try:
        yield n
    finally:
        started = n.started
        log = n.error_log()
        n.cleanup()
    if started:
        check_log(log, n.log_allow)


@pytest.fixture(scope="module")
def nginx():
    """A running nginx with upload locations (see UPLOAD_SERVER) and a
    store."""
    n = Nginx()
    n.write(server=UPLOAD_SERVER.format(uploads=n.uploads),
            http=f"    gatehouse_conf {n.ghconf};\n")
    try:
        n.start()
        yield n
    finally:
        log = n.error_log()
        n.cleanup()
    check_log(log)
