# scripts/demo.d/nginx.sh - upload inspection in nginx (sourced by
# scripts/demo): Debian's nginx with ngx_http_gatehouse_module on
# loopback, under build/demo/nginx, sharing the demo's store.  A clean PDF,
# a PDF that says it is a PNG, and EICAR in a zip are uploaded; then the
# answers, the status endpoint and the store's records; then a phone photo
# with a GPS position, stored without it, upright, with a thumbnail; last,
# an event of the application's through the events API.

ngx_mod="$top/build/nginx/ngx_http_gatehouse_module.so"

if [ ! -f "$ngx_mod" ] || ! command -v nginx >/dev/null 2>&1; then
	say "nginx: skipped (needs the nginx package and make)"
else
	ngx="$demo/nginx"
	mkdir -p "$ngx/conf" "$ngx/logs" "$ngx/tmp" "$ngx/clamav" \
	    "$demo/uploads" "$demo/upload-files"
	ngx_port=$(python3 -c 'import socket; s = socket.socket(); '\
's.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

	# No signature download is possible here: a one-line database that
	# knows the EICAR test string (the official ones come from freshclam).
	eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
	printf 'Gatehouse.Demo.EICAR:0:*:%s\n' \
	    "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" \
	    > "$ngx/clamav/demo.ndb"

	# Workers run as the web domain's user, which owns the web store and
	# the upload directories, and nothing else.
	chown gh-demo-web:gh-demo-web "$demo/uploads" "$ngx/tmp"
	cat > "$ngx/conf/nginx.conf" <<EOF
load_module $ngx_mod;
user gh-demo-web gh-demo-web;
worker_processes 1;
thread_pool default threads=2;
error_log $ngx/logs/error.log notice;
pid $ngx/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log $ngx/logs/access.log;
    client_body_temp_path $ngx/tmp;
    client_max_body_size 20m;

    gatehouse_conf      $GATEHOUSE_CONF;
    gatehouse_clamav_db $ngx/clamav;

    server {
        listen 127.0.0.1:$ngx_port;
        location = /upload {
            gatehouse_upload      on;
            gatehouse_upload_dir  $demo/uploads;
            gatehouse_upload_user \$http_x_user;
            gatehouse_thumbnail   320x240;
        }
        location /uploads/status/ {
            gatehouse_upload_status;
            gatehouse_upload_user \$http_x_user;
        }
        location /dl/ {
            gatehouse_download;
        }
        location = /internal/events {
            allow 127.0.0.1;
            deny all;
            gatehouse_events_api types=order.*;
        }
    }
}
EOF
	# So that 'gatehouse tokens make download' prints whole links.
	set_key "$GATEHOUSE_CONF" tokens base_url "http://127.0.0.1:$ngx_port"
	say "nginx with the Gatehouse module on 127.0.0.1:$ngx_port"
	run nginx -t -q -p "$ngx" -c "$ngx/conf/nginx.conf"
	nginx -p "$ngx" -c "$ngx/conf/nginx.conf"
	on_exit "kill \$(cat '$ngx/logs/nginx.pid') 2>/dev/null || true"
	sleep 0.5
	grep 'clamav engine compiled in master' "$ngx/logs/error.log" | sed 's/.*gatehouse: /(master) /'

	f="$demo/upload-files"
	printf '%%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%%%EOF\n' \
	    > "$f/report.pdf"
	cp "$f/report.pdf" "$f/photo.png"
	python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("invoice.com", sys.argv[2])' "$f/invoice.zip" "$eicar"

	upload() {
		printf '$ curl -H "X-User: alice" -F file=@%s http://127.0.0.1:%s/upload\n' \
		    "$(basename "$1")" "$ngx_port"
		curl -sS -H "X-User: alice" -F "file=@$1" \
		    -w '\n(HTTP %{http_code})\n' "http://127.0.0.1:$ngx_port/upload"
	}

	say "A clean PDF: stored, recorded, 201"
	upload "$f/report.pdf"
	say "A PDF that calls itself photo.png: 415, the detected type named"
	upload "$f/photo.png"
	say "EICAR inside a zip: quarantined (mode 0600), 422 naming the signature"
	upload "$f/invoice.zip"
	ls -l "$demo/uploads/.quarantine"

	say "The status of an upload: alice sees hers, bob gets 404"
	ngx_id=$("$gh" --json uploads list --status stored --limit 1 |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
	run curl -sS -H "X-User: alice" "http://127.0.0.1:$ngx_port/uploads/status/$ngx_id"
	run curl -sS -H "X-User: bob" "http://127.0.0.1:$ngx_port/uploads/status/$ngx_id"

	say "A signed download link, and a range of it (206, as for static files)"
	ngx_url=$("$gh" tokens make download "$ngx_id" alice)
	echo "\$ gatehouse tokens make download $ngx_id alice"
	echo "$ngx_url"
	run curl -sS -r 0-7 -D - "$ngx_url"
	echo
	say "A hostile file name: stored under a safe name, the original kept escaped"
	python3 - "$ngx_port" "$f/report.pdf" <<'PY'
import http.client, sys, uuid
port, path = sys.argv[1], sys.argv[2]
name = b"../../Q3\x01report\xe2\x80\xaefdp.exe.pdf"
b = uuid.uuid4().hex
body = (b"--" + b.encode() + b"\r\nContent-Disposition: form-data; "
        b"name=\"file\"; filename=\"" + name + b"\"\r\nContent-Type: "
        b"application/pdf\r\n\r\n" + open(path, "rb").read() +
        b"\r\n--" + b.encode() + b"--\r\n")
print("$ (a client sends filename=%r)" % name.decode("utf-8", "replace"))
c = http.client.HTTPConnection("127.0.0.1", int(port))
c.request("POST", "/upload", body, {"X-User": "alice", "Content-Type":
          "multipart/form-data; boundary=" + b})
r = c.getresponse()
print(r.read().decode(), "(HTTP %d)" % r.status)
PY
	ngx_odd=$("$gh" --json uploads list --status stored --limit 1 |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
	run "$gh" uploads show "$ngx_odd"

	say "A phone photo with its GPS position: stored without EXIF, upright, with a thumbnail"
	# Debian's python3, which has PIL (python3-pil)
	/usr/bin/python3 - "$f/holiday.jpg" <<'PY'
import sys
from PIL import Image
# 1600x1200 landscape pixels, orientation 6: a portrait photo, as phones
# store them, with a GPS position in its EXIF
im = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
ex = Image.Exif()
ex[0x010F], ex[0x0112] = "DemoPhone", 6
ex[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
im.save(sys.argv[1], "JPEG", quality=90, exif=ex.tobytes())
PY
	show_exif() {
		/usr/bin/python3 - "$1" <<'PY'
import sys
from PIL import Image
with Image.open(sys.argv[1]) as im:
    ex = im.getexif()
    gps = ex.get_ifd(0x8825)
    print(f"{sys.argv[1].rsplit('/', 1)[-1]}: {im.size[0]}x{im.size[1]}, "
          f"EXIF tags {len(ex)}, orientation {ex.get(0x0112, '-')}, "
          f"GPS {dict(gps) if gps else 'none'}")
PY
	}
	show_exif "$f/holiday.jpg"
	upload "$f/holiday.jpg"
	ngx_img=$("$gh" --json uploads list --status stored --limit 1 |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
	ngx_img_rec=$("$gh" --json uploads show "$ngx_img")
	ngx_img_file=$(printf '%s' "$ngx_img_rec" |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["stored_name"])')
	ngx_img_thumb=$(printf '%s' "$ngx_img_rec" |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["thumb_name"])')
	echo "(as stored, and its thumbnail, read back with PIL)"
	show_exif "$ngx_img_file"
	show_exif "$ngx_img_thumb"
	run "$gh" uploads show "$ngx_img"

	say "The store's records of every upload, and the event for notifyd"
	sleep 0.3   # refusals are recorded just after the answer
	run "$gh" uploads list
	ngx_bad=$("$gh" --json uploads list --status quarantined --limit 1 |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
	run "$gh" uploads show "$ngx_bad"
	echo "(the web domain's outbox; its bridge hands each event to notifyd)"
	run "$gh" --domain web events list

	say "The application's event through the events API (loopback only): 202"
	ngx_ev='{"type": "order.shipped", "user": "alice", "title": "Your order shipped", "category": "orders", "action_url": "https://app.example.org/orders/1001", "metadata": {"order": 1001}, "expires": "7d", "dedup_key": "order:1001:shipped"}'
	echo "\$ curl -H 'Content-Type: application/json' -d '$ngx_ev' http://127.0.0.1:$ngx_port/internal/events"
	ngx_ans=$(curl -sS -H 'Content-Type: application/json' -d "$ngx_ev" \
	    "http://127.0.0.1:$ngx_port/internal/events")
	echo "$ngx_ans"
	echo "(again, with the same dedup_key: the same event, not a second one)"
	curl -sS -H 'Content-Type: application/json' -d "$ngx_ev" \
	    -w '(HTTP %{http_code})\n' "http://127.0.0.1:$ngx_port/internal/events"
	say "A web application may not raise security notices: 400 naming the field"
	curl -sS -H 'Content-Type: application/json' \
	    -d '{"type": "order.alert", "user": "alice", "title": "Your account was breached", "category": "security"}' \
	    -w '(HTTP %{http_code})\n' "http://127.0.0.1:$ngx_port/internal/events"
	ngx_evid=$(printf '%s' "$ngx_ans" |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
	echo "(queued in the web outbox; the bridge carries it to notifyd, which checks it against [events_api] again)"
	run "$gh" --domain web events show "$ngx_evid"
fi
