# scripts/demo.d/inbox.sh - the in-app inbox over HTTP (sourced by
# scripts/demo, after notifyd and the bridges started): a second nginx on
# loopback, workers as the web domain's user, with `gatehouse_inbox;` and
# the example page (examples/inbox/).  A notification is sent with the CLI
# while a stream is open: it arrives over Server-Sent Events through
# notifyd, the web bridge and nginx; then the list, a read mark, and the
# read mark in the core's inbox (docs/api.md, docs/security.md "The web
# face").

ngx_mod="$top/build/nginx/ngx_http_gatehouse_module.so"

if [ ! -f "$ngx_mod" ] || ! command -v nginx >/dev/null 2>&1 ||
   [ -z "${notifyd_pid:-}" ]; then
	say "inbox: skipped (needs nginx, make, and notifyd running)"
else
	ibx="$demo/inbox-nginx"
	mkdir -p "$ibx/conf" "$ibx/logs" "$ibx/tmp"
	chown gh-demo-web:gh-demo-web "$ibx/tmp"
	ibx_port=$(python3 -c 'import socket; s = socket.socket(); '\
's.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$ibx/conf/nginx.conf" <<EOF
load_module $ngx_mod;
user gh-demo-web gh-demo-web;
worker_processes 1;
thread_pool default threads=2;
error_log $ibx/logs/error.log notice;
pid $ibx/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log $ibx/logs/access.log;
    client_body_temp_path $ibx/tmp;
    types { text/html html; application/javascript js; }
    gatehouse_conf $GATEHOUSE_CONF;
    server {
        listen 127.0.0.1:$ibx_port;
        # the application's login names the user; a header stands in here
        location /api/notifications {
            gatehouse_inbox;
            gatehouse_user \$http_x_user\$cookie_gh_user;
        }
        location /inbox/ {
            alias $top/examples/inbox/;
        }
    }
}
EOF

	say "The inbox API and its example page on http://127.0.0.1:$ibx_port/inbox/index.html (cookie gh_user=mina)"
	run nginx -t -q -p "$ibx" -c "$ibx/conf/nginx.conf"
	nginx -p "$ibx" -c "$ibx/conf/nginx.conf"
	on_exit "kill \$(cat '$ibx/logs/nginx.pid') 2>/dev/null || true"
	sleep 0.5

	say "A stream is open for mina; a notification arrives on it live"
	echo "\$ curl -N -H 'X-User: mina' http://127.0.0.1:$ibx_port/api/notifications/stream  (for 3 s)"
	curl -sS -N --max-time 3 -H "X-User: mina" \
	    "http://127.0.0.1:$ibx_port/api/notifications/stream" \
	    > "$ibx/stream.txt" 2>/dev/null &
	ibx_curl=$!
	sleep 0.5
	run "$top/build/gatehouse" notify mina --channel inbox \
	    --title "Your report is ready" --message "Q3 numbers are in" \
	    --priority high
	wait "$ibx_curl" 2>/dev/null || true
	cat "$ibx/stream.txt"

	say "Her list (urgent first, then newest); bob sees none of it"
	run curl -sS -H "X-User: mina" "http://127.0.0.1:$ibx_port/api/notifications"
	run curl -sS -H "X-User: bob" "http://127.0.0.1:$ibx_port/api/notifications"
	ibx_id=$(curl -sS -H "X-User: mina" \
	    "http://127.0.0.1:$ibx_port/api/notifications" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["notifications"][0]["id"])')

	say "She marks it read; bob cannot (404); the core gets the read mark"
	run curl -sS -X POST -H "X-User: bob" "http://127.0.0.1:$ibx_port/api/notifications/$ibx_id/read"
	run curl -sS -X POST -H "X-User: mina" "http://127.0.0.1:$ibx_port/api/notifications/$ibx_id/read"
	sleep 1.5
	run "$top/build/gatehouse" inbox list mina
fi
