# packaging/deb.mk - `make deb`: the Debian packages, built with
# dpkg-buildpackage from a copy of the tree (tracked and new files, never
# build/), with packaging/debian as its debian/: the source package (.dsc,
# .tar.xz) and the binary ones; then lintian on both, through the .changes
# that lists them.
#
#   make deb          build/deb/*.deb, the source package, and lintian
#                     (no errors, no warnings)
#
# debian/changelog's version must be the Makefile's VERSION (check-version).

DEB_OUT := build/deb
DEB_SRC := $(DEB_OUT)/gatehouse-$(VERSION)

.PHONY: deb
deb: check-version
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_SRC)
	git ls-files -co --exclude-standard -z | grep -zv '^packaging/debian/' | \
	  tar --null -T - -cf - | tar -C $(DEB_SRC) -xf -
	cp -a packaging/debian $(DEB_SRC)/debian
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc >../build.log 2>&1 || \
	  { tail -40 ../build.log; exit 1; }
	lintian --allow-root --fail-on error,warning --info $(DEB_OUT)/*.changes
	@ls -1 $(DEB_OUT)/*.dsc $(DEB_OUT)/*.deb
