# scripts/demo.d/cluster.sh - the multi-host mode over NATS JetStream
# (sourced by scripts/demo; docs/cluster.md): a three-node nats-server
# cluster on loopback with a user per domain (keys made by `gatehouse
# cluster nkey`), two web hosts each with its own web store and bridge,
# and two gatehouse-notifyd instances, each with its own core store,
# pulling from the one consumer and delivering to a local webhook sink.
# Everything under $demo/cluster; everything stopped at the end.

nats_bin=$(command -v nats-server || true)
[ -n "$nats_bin" ] || { [ -x /usr/sbin/nats-server ] && nats_bin=/usr/sbin/nats-server; }
if [ -z "$nats_bin" ]; then
	say "The multi-host mode: skipped, nats-server is not installed (make deps)"
else
	cl="$demo/cluster"
	mkdir -p "$cl/keys"
	chmod 0755 "$cl" "$cl/keys"

	say "The multi-host mode: a user NKey per domain (gatehouse cluster nkey)"
	# Each seed belongs to the user that reads it: notifyd's for core, the
	# web bridge's for web; the servers get only the public keys.
	echo "\$ $gh cluster nkey --out $cl/keys/core.nk --owner gh-demo-core"
	core_pub=$("$gh" cluster nkey --out "$cl/keys/core.nk" --owner gh-demo-core)
	echo "$core_pub"
	echo "\$ $gh cluster nkey --out $cl/keys/web.nk --owner gh-demo-web"
	web_pub=$("$gh" cluster nkey --out "$cl/keys/web.nk" --owner gh-demo-web)
	echo "$web_pub"
	run ls -l "$cl/keys"

	say "Three nats-server nodes on loopback (JetStream, routes, the users)"
	ports=$(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(9)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	read -r cport1 cport2 cport3 rport1 rport2 rport3 mport1 mport2 mport3 <<EOF
$ports
EOF
	nats_pids=""
	# nats_node N CLIENT_PORT ROUTE_PORT MONITOR_PORT PEER_ROUTE PEER_ROUTE
	nats_node() {
		# docs/cluster.md's sample: the core may do anything, the web
		# domain only publish its events and heartbeats, and read its
		# own replies.
		cat > "$cl/nats$1.conf" <<EOF
server_name: nats$1
listen: 127.0.0.1:$2
http: 127.0.0.1:$4
jetstream { store_dir: "$cl/nats$1", max_memory_store: 64MB, max_file_store: 256MB }
cluster {
  name: gatehouse-demo
  listen: 127.0.0.1:$3
  routes: [ nats://127.0.0.1:$5, nats://127.0.0.1:$6 ]
}
authorization {
  users: [
    { nkey: $core_pub, permissions: { publish: ">", subscribe: ">" } }
    { nkey: $web_pub,
      permissions: { publish:   [ "gatehouse.events.web.*", "\$KV.gatehouse_hosts.*.web" ],
                     subscribe: [ "_GH_INBOX.web.>" ] } }
  ]
}
EOF
		"$nats_bin" -c "$cl/nats$1.conf" > "$cl/nats$1.log" 2>&1 &
		nats_pids="$nats_pids $!"
		on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null || true"
	}
	nats_node 1 "$cport1" "$rport1" "$mport1" "$rport2" "$rport3"
	nats_node 2 "$cport2" "$rport2" "$mport2" "$rport1" "$rport3"
	nats_node 3 "$cport3" "$rport3" "$mport3" "$rport1" "$rport2"
	run sed -n '/^cluster/,$p' "$cl/nats1.conf"
	# JetStream needs a meta leader before a stream can be made.
	i=0
	until /usr/bin/python3 - "$mport1" "$mport2" "$mport3" <<'EOF'
import json, sys, urllib.request
for port in sys.argv[1:]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/jsz", timeout=2) as r:
            if (json.load(r).get("meta_cluster") or {}).get("leader"):
                sys.exit(0)
    except OSError:
        pass
sys.exit(1)
EOF
	do
		i=$((i + 1))
		[ $i -lt 150 ] || { echo "demo: the NATS cluster elected no leader" >&2; exit 1; }
		sleep 0.2
	done
	echo "three nodes up, JetStream leader elected"
	servers="nats://127.0.0.1:$cport1, nats://127.0.0.1:$cport2, nats://127.0.0.1:$cport3"

	# A webhook sink both instances deliver to: one file per request.
	mkdir -p "$cl/sink"
	cat > "$cl/sink.py" <<'EOF'
import http.server, pathlib, sys, threading
out = pathlib.Path(sys.argv[1]); lock = threading.Lock()
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            n = len(list(out.glob("hook-*.json"))) + 1
            (out / f"hook-{n}.json").write_bytes(body)
        self.send_response(200); self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
(out / "port").write_text(f"{srv.server_address[1]}\n")
srv.serve_forever()
EOF
	/usr/bin/python3 "$cl/sink.py" "$cl/sink" &
	cl_sink_pid=$!
	on_exit "kill $cl_sink_pid 2>/dev/null || true"
	while [ ! -s "$cl/sink/port" ]; do sleep 0.1; done
	hook_port=$(cat "$cl/sink/port")

	# nats_section HOST: the [nats] every part of this cluster reads; %d
	# names each domain's own seed.
	nats_section() {
		printf '[nats]\nservers = %s\nhost = %s\nnkey_seed = %s/keys/%%d.nk\n' \
		    "$servers" "$1" "$cl"
		printf 'replicas = 3\nack_wait = 10s\nconnect_timeout = 5s\n'
		# each stream is given this much on every server, up front
		# (max_file_store below must hold both streams and the buckets)
		printf 'stream_max_bytes = 32M\n'
	}

	say "Two delivery instances: gatehouse-notifyd A and B, each its own store"
	nd_pids=""
	for n in a b; do
		mkdir -p "$cl/nd-$n/run"
		chown gh-demo-core:gh-demo-core "$cl/nd-$n/run"
		{
			printf '[store]\npath = %s/nd-%s/store\nowner = gh-demo-core\n\n' "$cl" "$n"
			printf '[notifyd]\ndefault_channels = hook\nlogin_fallback = none\n'
			printf 'poll_interval = 100ms\nshutdown_timeout = 5s\n'
			printf 'bridge_socket = %s/nd-%s/run/bridge.sock\n' "$cl" "$n"
			printf 'shipped_templates = %s/conf/templates\n' "$top"
			printf 'templates = %s/nd-%s/templates\n\n' "$cl" "$n"
			printf '[channel.hook]\ntype = webhook\n'
			printf 'url = http://127.0.0.1:%s/hook\n\n' "$hook_port"
			nats_section "notifyd-$n"
		} > "$cl/nd-$n.conf"
		mkdir -p "$cl/nd-$n/templates"
		"$gh" -c "$cl/nd-$n.conf" store init > /dev/null
		"$top/build/gatehouse-notifyd" -c "$cl/nd-$n.conf" --stderr \
		    2> "$cl/nd-$n.log" &
		nd_pids="$nd_pids $!"
		on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null || true"
	done
	run cat "$cl/nd-a.conf"

	say "Two web hosts, web-a and web-b: each its own web store and bridge"
	br_pids=""
	for h in web-a web-b; do
		mkdir -p "$cl/$h"
		{
			printf '[store]\npath = %s/%s/core\nowner = gh-demo-core\n' "$cl" "$h"
			printf 'web = %s/%s/web\nweb_owner = gh-demo-web\n\n' "$cl" "$h"
			nats_section "$h"
		} > "$cl/$h.conf"
		"$gh" -c "$cl/$h.conf" store init > /dev/null
		"$top/build/gatehouse-bridge" -c "$cl/$h.conf" web \
		    2> "$cl/bridge-$h.log" &
		br_pids="$br_pids $!"
		on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null || true"
	done
	run cat "$cl/web-b.conf"
	echo "running:"
	# shellcheck disable=SC2086
	ps -o user=,args= -p "$(echo $nats_pids $nd_pids $br_pids | tr ' ' ,)"

	say "Each web host commits events to its own web store"
	# One at a time, a moment apart: JetStream hands each to whichever
	# instance is waiting for one (a burst would go to one fetch).
	titles=""
	for k in 1 2 3; do
		for h in web-a web-b; do
			t="infected upload $k on $h"
			run "$gh" -c "$cl/$h.conf" --domain web events enqueue \
			    --user "user$k" --type upload.infected --title "$t"
			titles="$titles|$t"
			sleep 0.3
		done
	done
	# Every title must reach the sink: the bridges publish, JetStream
	# hands each event to one instance, that instance delivers it.
	i=0
	while :; do
		missing=$(echo "$titles" | tr '|' '\n' | grep . | while read -r t; do
			grep -lqF "$t" "$cl"/sink/hook-*.json 2>/dev/null || echo "$t"
		done)
		[ -z "$missing" ] && break
		i=$((i + 1))
		if [ $i -ge 150 ]; then
			echo "demo: not delivered through the cluster within 30 s:" >&2
			echo "$missing" >&2
			for f in "$cl"/nd-*.log "$cl"/bridge-*.log; do
				echo "-- $f:" >&2; tail -n 20 "$f" >&2
			done
			exit 1
		fi
		sleep 0.2
	done
	echo "all 6 events delivered: $(find "$cl/sink" -name 'hook-*.json' | wc -l) webhook requests"

	say "gatehouse cluster status (the core's view)"
	# the bridges' heartbeats come every 5 s
	i=0
	until [ "$("$gh" -c "$cl/nd-a.conf" --json cluster status |
	        grep -c '"web-[ab]"')" -ge 2 ] || [ $i -ge 40 ]; do
		sleep 0.25
		i=$((i + 1))
	done
	run "$gh" -c "$cl/nd-a.conf" cluster status

	say "Which instance delivered which event"
	echo "(each event went to whichever instance was waiting for one: all"
	echo " of a burst may go to one; each is in exactly one store)"
	for n in a b; do
		echo "-- notifyd $n:"
		run "$gh" -c "$cl/nd-$n.conf" events list
		run "$gh" -c "$cl/nd-$n.conf" deliveries list
	done

	say "A suppression added on instance A reaches instance B's store"
	run "$gh" -c "$cl/nd-a.conf" suppress add dave@example.org \
	    --reason "asked on the phone"
	i=0
	until "$gh" -c "$cl/nd-b.conf" suppress list | grep -q dave@example.org; do
		i=$((i + 1))
		if [ $i -ge 50 ]; then
			echo "demo: the suppression did not reach instance B" >&2
			tail -n 20 "$cl/nd-a.log" "$cl/nd-b.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	run "$gh" -c "$cl/nd-b.conf" suppress list

	say "Stopping the cluster part"
	# shellcheck disable=SC2086
	for p in $br_pids $nd_pids; do kill -TERM "$p" 2>/dev/null || true; done
	# shellcheck disable=SC2086
	for p in $br_pids $nd_pids; do wait "$p" 2>/dev/null || true; done
	# shellcheck disable=SC2086
	for p in $nats_pids; do kill -TERM "$p" 2>/dev/null || true; done
	# shellcheck disable=SC2086
	for p in $nats_pids; do wait "$p" 2>/dev/null || true; done
	kill "$cl_sink_pid" 2>/dev/null || true; wait "$cl_sink_pid" 2>/dev/null || true
	echo "-- notifyd A's log:"
	cat "$cl/nd-a.log"
	echo "stopped: the bridges, both notifyd instances, the three nodes"
fi
