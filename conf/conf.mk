# conf/conf.mk - the system files the packages ship (docs/security.md,
# "Layout on a host"):
#
#   conf/systemd/*.service      units of the daemons, with their sandboxes
#   conf/systemd/*.path         gatehouse-nginx-reload.path: nginx reloaded
#                               for new ClamAV signatures (its .service)
#   conf/systemd/*.service.d/   drop-ins (the web bridge's user)
#   conf/sysusers.d/gatehouse.conf   the users gatehouse, gatehouse-mail,
#                                    gatehouse-login
#   conf/tmpfiles.d/gatehouse.conf   the stores' and keys' directories
#   conf/postfix-main.cf.sample, conf/sendmail.mc.sample   the MTA's side
#
# The units name the daemons by their packaged path, /usr/sbin; installed
# elsewhere (PREFIX=/usr/local), they get SBINDIR instead.  Check a unit's
# sandbox with  make check-units  (systemd-analyze security: each at most
# UNIT_EXPOSURE_MAX).

SYSTEMDUNITDIR ?= /lib/systemd/system
SYSUSERSDIR    ?= /usr/lib/sysusers.d
TMPFILESDIR    ?= /usr/lib/tmpfiles.d

SYSTEM_UNITS := $(wildcard conf/systemd/*.service conf/systemd/*.path)
SYSTEM_DROPINS := $(wildcard conf/systemd/*.service.d/*.conf)

.PHONY: install-system
install-system:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples
	set -e; for f in $(SYSTEM_UNITS); do \
	  sed 's|/usr/sbin/|$(SBINDIR)/|g' "$$f" > \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/$${f##*/}; \
	  chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${f##*/}; done
	set -e; for f in $(SYSTEM_DROPINS); do \
	  d=$${f%/*}; d=$${d##*/}; \
	  install -d $(DESTDIR)$(SYSTEMDUNITDIR)/$$d; \
	  install -m 0644 "$$f" $(DESTDIR)$(SYSTEMDUNITDIR)/$$d/; done
	install -m 0644 conf/sysusers.d/gatehouse.conf \
	  $(DESTDIR)$(SYSUSERSDIR)/gatehouse.conf
	install -m 0644 conf/tmpfiles.d/gatehouse.conf \
	  $(DESTDIR)$(TMPFILESDIR)/gatehouse.conf
	install -m 0644 conf/postfix-main.cf.sample conf/sendmail.mc.sample \
	  $(DESTDIR)$(DOCDIR)/examples/
INSTALL_HOOKS += install-system

# Every unit's exposure under `systemd-analyze security --offline=true`,
# the template as each of its instances (with their drop-ins), from a
# scratch root laid out as the packages lay it out; then `systemd-analyze
# verify` on them (the daemons themselves need not be installed).
UNIT_EXPOSURE_MAX ?= 2.0
.PHONY: check-units
check-units:
	@rm -rf build/units-root
	@$(MAKE) --no-print-directory install-system \
	  DESTDIR=$(CURDIR)/build/units-root SBINDIR=/usr/sbin >/dev/null
	@set -e; fail=0; \
	for u in gatehouse-milter.service gatehouse-notifyd.service \
	         gatehouse-bridge@mail.service gatehouse-bridge@web.service \
	         gatehouse-bridge@login.service \
	         gatehouse-nginx-reload.service; do \
	  out=$$(systemd-analyze security --offline=true \
	         --root=$(CURDIR)/build/units-root $$u 2>&1) || true; \
	  x=$$(printf '%s\n' "$$out" | \
	       sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'); \
	  if [ -z "$$x" ]; then printf '%s\n' "$$out"; fail=1; continue; fi; \
	  echo "$$u: exposure $$x"; \
	  if awk "BEGIN{exit !($$x > $(UNIT_EXPOSURE_MAX))}"; then \
	    echo "  over $(UNIT_EXPOSURE_MAX)"; fail=1; fi; \
	done; \
	out=$$(cd build/units-root$(SYSTEMDUNITDIR) && systemd-analyze verify \
	  --man=no gatehouse-milter.service gatehouse-notifyd.service \
	  gatehouse-bridge@mail.service gatehouse-bridge@web.service \
	  gatehouse-nginx-reload.path gatehouse-nginx-reload.service 2>&1 | \
	  grep -v 'Command /usr/sbin/gatehouse-[a-z]* is not executable') || true; \
	if [ -n "$$out" ]; then printf '%s\n' "$$out"; fail=1; fi; \
	exit $$fail

check: check-units
