"""pytest fixtures of the nginx module's tests.  They and the helpers the
tests import live in ngx_support.py: test modules cannot import "conftest"
by name when several directories each have one."""
from ngx_support import *  # noqa: F401,F403  (fixtures must be visible here)
