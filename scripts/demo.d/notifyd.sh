# scripts/demo.d/notifyd.sh - gatehouse-notifyd (sourced by scripts/demo):
# a user with email, webhook and inbox preferences gets an event; notifyd
# delivers it to a local SMTP sink and a local webhook sink, and we look at
# what arrived and at what the store recorded.

notifyd_bin="$top/build/gatehouse-notifyd"
sinks="$demo/sinks"
mkdir -p "$sinks" "$demo/etc/templates"
# The shipped templates straight from the source tree; $demo/etc/templates
# is the admin's directory of overrides, empty here.
set_key "$GATEHOUSE_CONF" notifyd shipped_templates "$top/conf/templates"

say "gatehouse-notifyd: local receivers for mail and a webhook"
# An SMTP sink (aiosmtpd) and an HTTP sink, each saving what it receives.
cat > "$sinks/sinks.py" <<'EOF'
import http.server, pathlib, socket, sys, threading, time
from aiosmtpd.controller import Controller
out = pathlib.Path(sys.argv[1])
class Mail:
    async def handle_DATA(self, server, session, env):
        n = len(list(out.glob("mail-*.eml"))) + 1
        (out / f"mail-{n}.eml").write_bytes(env.content)
        return "250 OK"
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = len(list(out.glob("hook-*.json"))) + 1
        (out / f"hook-{n}.json").write_bytes(body)
        (out / f"hook-{n}.headers").write_text(str(self.headers))
        self.send_response(200); self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a): pass
s = socket.socket(); s.bind(("127.0.0.1", 0)); smtp_port = s.getsockname()[1]; s.close()
ctl = Controller(Mail(), hostname="127.0.0.1", port=smtp_port); ctl.start()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
(out / "ports").write_text(f"{smtp_port} {srv.server_address[1]}\n")
srv.serve_forever()
EOF
/usr/bin/python3 "$sinks/sinks.py" "$sinks" &
sink_pid=$!
on_exit "kill $sink_pid 2>/dev/null || true"
while [ ! -s "$sinks/ports" ]; do sleep 0.1; done
read -r smtp_port http_port < "$sinks/ports"
echo "SMTP sink on 127.0.0.1:$smtp_port, webhook sink on 127.0.0.1:$http_port"

# The sample's mail channel (the local MTA) pointed at the sink, and a
# webhook channel added to the demo's configuration.
set_key "$GATEHOUSE_CONF" channel.mail url "smtp://127.0.0.1:$smtp_port"
set_key "$GATEHOUSE_CONF" channel.mail from notify@demo.example.org
set_key "$GATEHOUSE_CONF" channel.mail from_name "Gatehouse demo"
cat >> "$GATEHOUSE_CONF" <<EOF

[channel.hook]
type = webhook
url = http://127.0.0.1:$http_port/gatehouse
secret_file = $demo/etc/hook.secret
EOF
# Delivery secrets go in files only notifyd's user reads, not in
# gatehouse.conf, which every part reads (docs/security.md).
echo demo-webhook-secret > "$demo/etc/hook.secret"
chown root:gh-demo-core "$demo/etc/hook.secret"
chmod 0640 "$demo/etc/hook.secret"
run "$notifyd_bin" --check

say "A user, her contacts and her preferences"
run "$gh" users set carol --name "Carol Example" --email carol@example.org \
    --tz Europe/Paris
run "$gh" prefs set carol --channel mail=on --channel hook=on \
    --category marketing=off
run "$gh" users show carol
run "$gh" prefs show carol

say "notifyd running (as gh-demo-core); an event for carol"
"$notifyd_bin" --stderr 2> "$demo/notifyd.log" &
notifyd_pid=$!
on_exit "kill $notifyd_pid 2>/dev/null || true"
# One bridge per producer domain, each as its store's owner: they carry
# the milter's, nginx's and PAM's events to notifyd, which checks them.
bridge_pids=""
while [ ! -S "$demo/run/bridge.sock" ]; do sleep 0.1; done
for d in mail web login; do
	"$top/build/gatehouse-bridge" "$d" 2> "$demo/bridge-$d.log" &
	bridge_pids="$bridge_pids $!"
	on_exit "kill $! 2>/dev/null || true"
done
sleep 1
echo "running, each as its domain's user:"
ps -o user=,args= -p "$(echo $notifyd_pid $bridge_pids | tr ' ' ,)"
id=$("$gh" notify carol --type login.new_host --title "New sign-in" \
    --message "carol signed in to demo.example.org from 203.0.113.7" \
    --priority high --metadata \
    '{"host": "demo.example.org", "addr": "203.0.113.7", "network": "203.0.113.0/24", "service": "sshd"}')
echo "event $id queued"
i=0
while [ "$("$gh" --json events show "$id" | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)["q"]["state"])')" != done ] &&
      [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
run "$gh" events show "$id"

say "What the receivers got"
echo "-- the mail (headers and text part):"
/usr/bin/python3 - "$sinks/mail-1.eml" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for h in ("From", "To", "Subject", "Date", "Message-ID", "X-Gatehouse-Idempotency-Key"):
    print(f"{h}: {m[h]}")
print()
print(m.get_body(("plain",)).get_content())
EOF
echo "-- the webhook request:"
grep -i '^x-gatehouse\|^idempotency-key' "$sinks/hook-1.headers"
cat "$sinks/hook-1.json"; echo
ts=$(sed -n 's/^X-Gatehouse-Timestamp: //Ip' "$sinks/hook-1.headers" | tr -d '\r')
echo "-- its signature, checked with openssl:"
printf '%s.' "$ts" | cat - "$sinks/hook-1.json" |
	openssl dgst -sha256 -hmac demo-webhook-secret | sed 's/^.* /sha256=/'
echo "-- carol's inbox:"
run "$gh" inbox list carol

echo "-- alice (whose logins and uploads come next) gets her alerts by mail:"
run "$gh" users set alice --email alice@example.org --tz UTC

say "A marketing event carol turned off: recorded as skipped, nothing sent"
id2=$("$gh" notify carol --type shop.sale --category marketing \
    --title "Spring sale")
sleep 1
run "$gh" deliveries list --event "$id2"

say "A user who reads Korean gets her alerts in Korean (users set --lang ko)"
run "$gh" users set minji --name "Kim Minji" --email minji@example.org --lang ko
run "$gh" prefs set minji --channel mail=on
id3=$("$gh" notify minji --type login.new_host --title "New sign-in" \
    --priority high --metadata \
    '{"host": "demo.example.org", "addr": "198.51.100.4", "network": "198.51.100.0/24", "service": "sshd"}')
i=0
until grep -lq 'minji@example.org' "$sinks"/mail-*.eml 2>/dev/null ||
      [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
/usr/bin/python3 - "$sinks" <<'EOF'
import email, email.policy, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).glob("mail-*.eml")):
    raw = p.read_bytes()
    if b"minji@example.org" not in raw:
        continue
    m = email.message_from_bytes(raw, policy=email.policy.default)
    subj = [l for l in raw.decode("ascii", "replace").splitlines()
            if l.startswith("Subject:")][0]
    print(f"on the wire: {subj}")
    print(f"decoded:     Subject: {m['Subject']}")
    print()
    print(m.get_body(("plain",)).get_content())
EOF

# notifyd keeps running: the milter, nginx and PAM parts below produce
# events it delivers; scripts/demo shows those and notifyd's log at the end.
