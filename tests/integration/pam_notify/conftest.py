"""pytest fixtures of pam_gatehouse's tests: pam, a PamEnv (a PAM
configuration, a store and the test drivers, tests/integration/lib/
gh_pam_support.py) that removes its pam_wrapper copies at teardown."""
import pytest

from gh_pam_support import PamEnv


@pytest.fixture
def pam(tmp_path):
    env = PamEnv(tmp_path)
    yield env
    env.remove_wrapper_copies()
