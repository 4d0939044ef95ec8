"""Mail under a compromised web domain (docs/security.md): the milter
writes the mail domain's own store, so a web uid that holds its store's
write lock forever and fills its data file with garbage changes nothing
for mail, which still comes out signed and logged."""
import os
import pwd
import subprocess

import mailenv
from mailenv import DOMAIN, send, simple_message

HOLD = ("import fcntl,struct,sys,time\n"
        "f=open(sys.argv[1],'r+')\n"
        "fcntl.fcntl(f,fcntl.F_OFD_SETLKW,struct.pack('hhqqi4x',"
        "fcntl.F_WRLCK,0,0,0,0))\n"
        "print('held',flush=True)\n"
        "time.sleep(3600)\n")


def test_mail_flows_signed_while_web_is_compromised(world, milter_factory):
    nobody = pwd.getpwnam("nobody")
    m = milter_factory(start=False, init=False)
    web = m.base / "web"
    mail = m.base / "mail"
    m.write_conf(extra=f"[store]\nmail = {mail}\nweb = {web}\n"
                       f"web_owner = nobody\n")
    m.init_store()
    assert os.stat(web).st_uid == nobody.pw_uid
    # the web domain, compromised: garbage in its store, its lock held
    setpriv = ["setpriv", f"--reuid={nobody.pw_uid}",
               f"--regid={nobody.pw_gid}", "--clear-groups", "--"]
    holder = subprocess.Popen(setpriv + ["/usr/bin/python3", "-c", HOLD,
                                         str(web / "wlock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        subprocess.run(setpriv + ["sh", "-c", f"head -c 40000 /dev/urandom "
                                  f"> {web}/data.mdb"], check=True)
        m.start()
        send(world.postfix.port, f"joe@{DOMAIN}", ["bob@example.net"],
             simple_message("web is down"))
        out = world.sink.find(b"Subject: web is down")[2]
        assert mailenv.verify_all(out, m.keys) == [True, True]
        assert m.record_for("web is down")["action"] == "accepted"
        assert (mail / "data.mdb").exists()
    finally:
        holder.kill()
        holder.wait()
