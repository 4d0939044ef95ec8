"""The module's dynamic symbol table: what nginx's load_module looks up
with dlsym() (ngx_modules, ngx_module_names, ngx_module_order) and nothing
else (nginx_module/module.map).  nginx dlopen()s modules RTLD_GLOBAL, so
anything more -- libgatehouse's gh_*, libgscan's gscan_*, the module's own
functions -- would sit in the master's global scope, where another module
or library could bind to it or interpose it.  That the module still loads
and works is the rest of this directory's tests."""
import shutil
import subprocess

import pytest

from ngx_support import MODULE

EXPECTED = {"ngx_modules", "ngx_module_names", "ngx_module_order"}


@pytest.mark.skipif(shutil.which("nm") is None, reason="no nm (binutils)")
def test_module_exports_only_what_nginx_looks_up():
    assert MODULE.exists(), f"{MODULE} is missing (make nginx)"
    out = subprocess.run(["nm", "-D", "--defined-only", str(MODULE)],
                         capture_output=True, text=True, check=True).stdout
    names = {ln.split()[-1] for ln in out.splitlines() if ln.strip()}
    # Version nodes (none here; ld may list one as an absolute symbol).
    names = {n for n in names if "@" not in n}
    assert names == EXPECTED, (
        f"exported beyond {sorted(EXPECTED)}: {sorted(names - EXPECTED)[:20]}"
        f" ({len(names - EXPECTED)} in all); missing: {sorted(EXPECTED - names)}")
