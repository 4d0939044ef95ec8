# scripts/demo.d/milter.sh - gatehouse-milter's part of `make demo`, sourced
# by scripts/demo.  Uses say/run, $top, $demo, $gh and GATEHOUSE_CONF from
# scripts/demo.
#
# Starts, on loopback and under build/demo only: a small SMTP sink standing
# in for the outside world, a Postfix instance of its own (config and queue
# under build/demo/postfix) and gatehouse-milter with the sample
# configuration; makes a DKIM key, sends a message the way an application
# would (sendmail(1)) and one through SMTP from an "outside" client,
# verifies the signature with dkimpy, and shows the mail log.  Everything
# is stopped again at the end, or on any failure.

mdemo="$demo/milter"
mkdir -p "$mdemo/dkim" "$mdemo/mail"
chmod 0755 "$demo" "$mdemo"
milter_conf="$mdemo/gatehouse.conf"
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
smtp_port=$(free_port)
sink_port=$(free_port)
milter_port=$(free_port)

# The sample configuration, as conf/gatehouse.conf ships it with its
# [milter] and [dkim] sections, moved under build/demo.
cp "$GATEHOUSE_CONF" "$milter_conf"
# The socket and pid file stay where the sample puts them (moved under
# build/demo/run-milter): the milter makes that directory itself, for its
# user and Postfix's group, 2750; the socket is 0660 of group postfix.
milter_sock="$demo/run-milter/milter.sock"
milter_pid="$demo/run-milter/milter.pid"
set_key "$milter_conf" milter unsubscribe_url "https://demo.example.org/unsubscribe"
set_key "$milter_conf" dkim key_dir "$mdemo/dkim"

milter_demo_cleanup() {
	[ -f "$milter_pid" ] && kill "$(cat "$milter_pid")" 2>/dev/null
	[ -d "$mdemo/postfix/etc" ] && postfix -c "$mdemo/postfix/etc" stop \
	    >/dev/null 2>&1
	[ -f "$mdemo/sink.pid" ] && kill "$(cat "$mdemo/sink.pid")" 2>/dev/null
	rm -f "$mdemo/sink.pid"
	return 0
}
on_exit milter_demo_cleanup

say "gatehouse-milter: a DKIM key for demo.example.org, and its DNS records"
run "$gh" -c "$milter_conf" dkim keygen --domain demo.example.org \
    --selector demo --type ed25519
run "$gh" -c "$milter_conf" dns records demo.example.org

# The outside world: a sink keeping what Postfix relays to it.
/usr/bin/python3 - "$sink_port" "$mdemo/mail" > "$mdemo/sink.log" 2>&1 <<'PYEOF' &
import os, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[2]
class Keep:
    async def handle_DATA(self, server, session, env):
        n = len(os.listdir(out))
        with open(os.path.join(out, "%03d.eml" % n), "wb") as f:
            f.write(env.original_content or env.content)
        return "250 kept"
c = Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
while True:
    time.sleep(60)
PYEOF
echo $! > "$mdemo/sink.pid"

# Postfix on loopback with the lines of conf/postfix-main.cf.sample.
pf="$mdemo/postfix"
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat > "$pf/etc/main.cf" <<PFEOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.demo.example.org
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = demo.example.org
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_authorized_xclient_hosts = 127.0.0.0/8
alias_maps =
smtp_tls_security_level = none
# the milter lines of conf/postfix-main.cf.sample, with the demo's socket,
# and tempfail: no demo message leaves unsigned
smtpd_milters = unix:$milter_sock
non_smtpd_milters = \$smtpd_milters
milter_default_action = tempfail
PFEOF
sed -E -e 's/^([a-z]+ +(unix|unix-dgram|inet) +[-ny] +[-ny] +)y/\1n/' \
    -e "s/^smtp( +inet)/127.0.0.1:$smtp_port\1/" \
    /etc/postfix/master.cf > "$pf/etc/master.cf"

say "gatehouse-milter and Postfix on 127.0.0.1 (Postfix port $smtp_port)"
run "$top/build/gatehouse-milter" -c "$milter_conf" -t
run "$top/build/gatehouse-milter" -c "$milter_conf"
run ls -ld "$demo/run-milter" "$milter_sock"
echo "(only Postfix's group reaches the socket: a web server cannot ask for signatures)"
run postfix -c "$pf/etc" start

say "An application sends mail with sendmail(1): signed"
printf 'From: Demo App <app@demo.example.org>\nTo: alice@example.net\nSubject: Your invoice\n\nHello Alice,\nyour invoice is attached in spirit.\n' |
    /usr/sbin/sendmail -C "$pf/etc" -f app@demo.example.org alice@example.net
say "Bulk mail to one recipient: List-Unsubscribe added, and signed too"
swaks --server "127.0.0.1:$smtp_port" --silent 2 --from news@demo.example.org \
    --to bob@example.net --header "Subject: Spring news" \
    --header "From: News <news@demo.example.org>" \
    --header "List-Id: Demo news <news.demo.example.org>" \
    --header "Precedence: bulk" --body "What's new this spring." ||
    echo "(swaks failed)"
say "Mail from an outside server to us: logged, never signed"
/usr/bin/python3 - "$smtp_port" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("mx.elsewhere.example")
s.docmd("XCLIENT", "ADDR=203.0.113.5 NAME=mx.elsewhere.example")
s.ehlo("mx.elsewhere.example")
s.sendmail("carol@elsewhere.example", ["app@demo.example.org"],
           b"From: Carol <carol@elsewhere.example>\r\n"
           b"To: app@demo.example.org\r\nSubject: Hello from outside\r\n\r\nHi!\r\n")
s.quit()
PYEOF

i=0
while [ "$(ls "$mdemo/mail" | wc -l)" -lt 3 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

say "What arrived, checked by an independent DKIM verifier (dkimpy)"
verify_arrived() {
/usr/bin/python3 - "$mdemo/mail" "$gh" "$milter_conf" <<'PYEOF'
import email, glob, json, subprocess, sys
import dkim
recs = json.loads(subprocess.run([sys.argv[2], "-c", sys.argv[3], "--json",
                                  "dns", "records", "demo.example.org"],
                                 capture_output=True, text=True).stdout)
txt = {r["name"] + ".": r["value"].encode() for r in recs
       if r["purpose"] == "DKIM"}
def dns(name, timeout=5):
    return txt.get(name.decode() if isinstance(name, bytes) else name)
for path in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw)
    n = len(msg.get_all("DKIM-Signature") or [])
    ok = [dkim.DKIM(raw).verify(idx=i, dnsfunc=dns) for i in range(n)]
    print(f"{msg['Subject']!r}: {n} signature(s)"
          + (f", dkimpy says {'pass' if all(ok) else 'FAIL'}" if n else ""))
    if msg["List-Unsubscribe"]:
        print("   List-Unsubscribe:", msg["List-Unsubscribe"][:70] + "...")
PYEOF
}
verify_arrived

say "A key rotation: the retired key stays in 'dns records' through its grace"
run "$gh" -c "$milter_conf" dkim rotate --domain demo.example.org
run "$gh" -c "$milter_conf" dns records demo.example.org
echo "(the mail signed before the rotation, checked against these records:)"
verify_arrived

say "The mail log"
run "$gh" -c "$milter_conf" mail log
run "$gh" -c "$milter_conf" mail show 1

milter_demo_cleanup
