# scripts/demo.d/store.sh - the store and the event queue (sourced by
# scripts/demo): producers enqueue, a consumer leases and acks.

say "The configuration (conf/gatehouse.conf, stores under build/demo)"
echo "(one store per trust domain, each its own user's: root never opens one)"
run "$gh" store init
run ls -l "$demo/store" "$demo/var"
echo "(the token keys: the master, and what the milter and nginx each get)"
run "$gh" tokens keygen
echo "(every part's settings checked, as each daemon will read them)"
run "$gh" config check

say "Producers enqueue events (here, the gatehouse command)"
run "$gh" events enqueue --user alice --type login.new_host \
    --title "New sign-in to demo.example.org" \
    --message "alice signed in from 192.0.2.10 over ssh" \
    --priority high --dedup-key "alice:192.0.2.0/24" \
    --metadata '{"ip": "192.0.2.10", "service": "sshd"}'
echo "(the same sign-in again: the dedup key makes it one event)"
run "$gh" events enqueue --user alice --type login.new_host \
    --title "New sign-in to demo.example.org" --dedup-key "alice:192.0.2.0/24"
run "$gh" events enqueue --user bob --type account.export_ready \
    --title "Your export is ready" --expires 1d
run "$gh" events enqueue --user ops --type disk.full \
    --title "Disk almost full on demo" --priority urgent
run "$gh" events list

say "A consumer leases events (most urgent first) and acks them"
leased=$("$gh" events lease --max 10 --visibility 30s)
echo "$leased"
# shellcheck disable=SC2046
run "$gh" events ack $(echo "$leased" | awk '{print $1}')
run "$gh" events list
run "$gh" events show 1

say "Signed links: a one-click unsubscribe token, checked"
run ls -l "$demo/etc/token.key" "$demo/etc/mail-token.key" "$demo/etc/web-token.key"
token=$("$gh" tokens make unsubscribe alice@example.org news)
echo "List-Unsubscribe: <https://demo.example.org/unsubscribe?t=$token>"
run "$gh" tokens check unsubscribe "$token"

say "The store"
run "$gh" store info

