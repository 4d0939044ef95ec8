# packaging/packaging.mk - the packages' targets.
#
#   make check-version   every packaging file carries the Makefile's VERSION
#   make rpm             the RPMs of packaging/rpm/gatehouse.spec, built here
#                        (rpmbuild --nodeps, even on Debian) into build/rpm/,
#                        then rpmlint on the spec and on each RPM

RPM_SPEC     := packaging/rpm/gatehouse.spec
RPM_RPMLINTRC := packaging/rpm/gatehouse.rpmlintrc
RPM_RPMLINTCONF := packaging/rpm/rpmlint.toml
RPM_TOPDIR   := $(CURDIR)/build/rpm
RPM_TARBALL  := $(RPM_TOPDIR)/SOURCES/gatehouse-$(VERSION).tar.gz
RPMBUILD     ?= rpmbuild
RPMLINT      ?= rpmlint

# On Debian (where CI runs it), rpm builds no debuginfo packages (nothing
# there adds %debug_package to a spec, as Fedora's redhat-rpm-config does;
# they would be of no use: these RPMs are checked, never shipped), links no
# /usr/lib/.build-id, and its post-install steps are replaced by
# packaging/rpm/install-post-debian, which compresses and strips as Fedora's.
RPM_DEFINES  := --define "_topdir $(RPM_TOPDIR)"
ifneq ($(wildcard /etc/debian_version),)
RPM_DEFINES  += --define "_build_id_links none" --define "debug_package %{nil}" \
	--define "__os_install_post $(CURDIR)/packaging/rpm/install-post-debian"
endif

.PHONY: check-version
check-version:
	@v=$$(sed -n 's/^Version:[[:space:]]*//p' $(RPM_SPEC)); \
	if [ "$$v" != "$(VERSION)" ]; then \
	  echo "check-version: $(RPM_SPEC) has Version $$v; the Makefile's VERSION is $(VERSION)" >&2; \
	  exit 1; \
	fi; \
	v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version); \
	if [ "$$v" != "$(VERSION)" ]; then \
	  echo "check-version: packaging/debian/changelog has $$v; the Makefile's VERSION is $(VERSION)" >&2; \
	  exit 1; \
	fi

# The tarball holds the working tree's files as git lists them (tracked, and
# untracked but not ignored) with their current contents, so what is built
# is what is checked out, edits included; outside git, everything but build/.
# (S: the prefix goes on names, not on the targets of symbolic links.)
# rpmbuild runs with no MAKEFLAGS of ours: the spec's make stands alone.
.PHONY: rpm
rpm: check-version
	rm -rf $(RPM_TOPDIR)
	mkdir -p $(RPM_TOPDIR)/SOURCES
	{ if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard --deduplicate; \
	  else \
	    find . -path ./build -prune -o -path ./.git -prune -o ! -type d -printf '%P\0'; \
	  fi; } | \
	  tar --null -T - --ignore-failed-read --sort=name --owner=0 --group=0 \
	    --numeric-owner --transform 's,^,gatehouse-$(VERSION)/,S' -czf $(RPM_TARBALL)
	cp -L packaging/rpm/gatehouse.sysusers $(RPM_TOPDIR)/SOURCES/
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	  $(RPMBUILD) -bb --nodeps $(RPM_DEFINES) $(RPM_SPEC)
	$(RPMLINT) -c $(RPM_RPMLINTCONF) -r $(RPM_RPMLINTRC) $(RPM_SPEC) $(RPM_TOPDIR)/RPMS/*/*.rpm
