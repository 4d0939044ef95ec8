# scripts/demo.d/pam.sh - pam_gatehouse's part of `make demo`, sourced
# sourced by scripts/demo as scripts/demo.d/pam.sh (copy or symlink it
# there).  Uses say/run, $demo, $gh and GATEHOUSE_CONF from scripts/demo.
#
# Logins go through pamtester with pam_wrapper reading service files from
# build/demo/pam.d, so /etc/pam.d is never touched; pam_matrix (from
# libpam-wrapper) plays the password module.

pamdir="$demo/pam.d"
mkdir -p "$pamdir"
matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so | head -n 1)
echo "alice:secret:gh-demo" > "$demo/passdb"
cat > "$pamdir/gh-demo" <<PAMEOF
auth    [success=2 default=ignore] $matrix passdb=$demo/passdb
auth    [default=ignore] $top/build/pam_gatehouse.so fail config=$GATEHOUSE_CONF fail_burst=3/5m
auth    requisite pam_deny.so
auth    required  pam_permit.so
session required  pam_permit.so
session optional  $top/build/pam_gatehouse.so config=$GATEHOUSE_CONF debug
PAMEOF
echo "session required pam_deny.so" > "$pamdir/other"
ghpam() {
	printf '$ pamtester %s\n' "$*"
	echo "${GH_DEMO_PASSWORD:-}" | LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
	    PAM_WRAPPER_SERVICE_DIR="$pamdir" PAM_WRAPPER_DEBUGLEVEL=2 \
	    pamtester "$@" 2>&1 |
	    grep -v -e '^$' -e 'copy_confdir' -e 'pwrap_' -e 'no default config' ||
	    true
	# The login returned once the module handed the work to its writer
	# (mode=detach); wait for the writers so the next step sees the store.
	for _ in $(seq 100); do
		ps -eo stat=,comm= | awk '$2 == "pam_gatehouse" && $1 !~ /^Z/ \
		    { found = 1 } END { exit !found }' || break
		sleep 0.05
	done
}

say "pam_gatehouse: alice's first login sets her baseline network (silent)"
cat "$pamdir/gh-demo"
ghpam -I rhost=192.0.2.10 -I tty=pts/0 gh-demo alice open_session close_session
say "pam_gatehouse: alice from a new network -> login.new_host"
ghpam -I rhost=198.51.100.7 -I tty=pts/1 gh-demo alice open_session close_session
say "pam_gatehouse: three wrong passwords -> one login.failed_burst"
for i in 1 2 3 4; do
	GH_DEMO_PASSWORD=wrong ghpam -I rhost=203.0.113.5 gh-demo alice authenticate
done
echo "(written by the login domain's user into its own store; its bridge"
echo " hands them to notifyd, which delivers them: the login itself never"
echo " waited on any of it)"
run "$gh" --domain login events list
