"""gatehouse-nginx-reload.service's ExecCondition= (conf/systemd): the
reload for new ClamAV signatures goes on only if `nginx -T` shows a
gatehouse_clamav_db naming signatures, never for clamd: (clamd loads its
own) nor without the directive.  The unit's own command runs, on real
`nginx -T` output of this module's configurations; only nginx's
invocation gets this test's prefix and configuration (-p, -c)."""
import configparser
import pathlib
import subprocess

import pytest

from ngx_support import NGINX

ROOT = pathlib.Path(__file__).resolve().parents[3]
UNIT = ROOT / "conf/systemd/gatehouse-nginx-reload.service"
LOCATION = """\
        location /u {{
            gatehouse_upload on;
            gatehouse_upload_dir {uploads};
        }}
"""


def condition_command(n):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(UNIT.read_text())
    line = cp["Service"]["ExecCondition"]
    # '+': full privileges (nginx -T opens the log files); the rest is
    # /bin/sh -c '...', the script in single quotes.
    assert line.startswith("+/bin/sh -c '") and line.endswith("'"), line
    script = line[len("+/bin/sh -c '"):-1]
    assert "/usr/sbin/nginx -T " in script, script
    return script.replace("/usr/sbin/nginx -T ",
                          f"{NGINX} -T -p {n.prefix} -c {n.conf} ", 1)


@pytest.mark.parametrize("http, reload", [
    ("gatehouse_clamav_db {prefix}/conf;\n"
     "    #gatehouse_clamav_db clamd:/run/clamav/clamd.ctl;\n", True),
    ("gatehouse_clamav_db \"{prefix}/conf\";\n", True),
    ("gatehouse_clamav_db clamd:/run/clamav/clamd.ctl;\n"
     "    # gatehouse_clamav_db {prefix}/conf;\n", False),
    ("gatehouse_clamav_db \"clamd:/run/clamav/clamd.ctl\";\n", False),
    ("# no gatehouse_clamav_db\n", False),
], ids=["path", "quoted-path", "clamd", "quoted-clamd", "none"])
def test_reload_only_for_a_signature_path(nginx_conf, http, reload):
    n = nginx_conf
    n.write(server=LOCATION.format(uploads=n.uploads),
            http="    " + http.format(prefix=n.prefix))
    r = n.test()
    assert r.returncode == 0, r.stderr     # the answer is not a broken config's
    p = subprocess.run(["/bin/sh", "-c", condition_command(n)],
                       capture_output=True, text=True, timeout=60)
    # 0: go on; 1-254: skip the start (systemd.service(5), ExecCondition=)
    assert (p.returncode == 0) == reload, (p.returncode, p.stderr)
    assert p.returncode < 255
