"""pytest fixtures of pam_gatehouse's tests: pam, a PamEnv (a PAM
configuration, a store and the test drivers, tests/integration/lib/
gh_pam_support.py) that removes its pam_wrapper copies and its store at
teardown."""
import pytest

from gh_pam_support import PamEnv


@pytest.fixture
def pam(tmp_path, request):
    # The store belongs to nobody (as root), as the packaged login store
    # belongs to gatehouse-login: modes detach and child drop to it and
    # exec the writer program, so every test of theirs runs it.  Tests of
    # mode=inline ("inline" in their name or parameters) keep a root
    # store: inline works in the host, which never opens another uid's.
    env = PamEnv(tmp_path, owner=None if "inline" in request.node.name
                 else "nobody")
    yield env
    env.remove_wrapper_copies()
    env.cleanup()
