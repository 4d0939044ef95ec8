# Gatehouse top-level Makefile.
#
# One non-recursive make for every part.  Each component directory adds itself
# through a fragment named DIR/DIR.mk (for example milter/milter.mk), which
# appends to the lists below:
#
#   PROGRAMS     what ships, built by `make`: the programs, the nginx and
#                PAM modules and the static libraries they link
#   DIST         what `make install` installs (`make dist-programs` builds
#                only these: what packages build)
#   CHECK_PROGRAMS  what only the tests run: the sanitized daemons, the test
#                builds and the test drivers (`make check-programs`)
#   UNIT_TESTS   test binaries run by `make unit-test` (ASan+UBSan; built by
#                `make check-programs` too)
#   INTEG_TESTS  pytest directories run by `make integration-test`
#   INSTALL_HOOKS  make targets run by `make install`
#
# Each part has a target of its own that builds what it ships: `make cli`,
# `make milter`, `make nginx`, `make pam`, `make notifyd`, `make bridge`.
#
# Objects go under build/ (normal) and build/asan/ (sanitized copies used only
# by the tests).  Dependencies are found with pkg-config.

# The one version of every program, man page and package (debian/changelog
# and the RPM spec are checked against it by `make check-version`).
VERSION     := 0.1.0

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/gatehouse
SYSCONFDIR  ?= /etc
LOCALSTATEDIR ?= /var
# Where the packaged daemons find their default templates; /etc overrides.
PKGDATADIR  ?= $(DATADIR)/gatehouse
# Helper programs run by the plugins, not by people (pam_gatehouse's writer).
LIBEXECDIR  ?= $(PREFIX)/libexec
PKGLIBEXECDIR ?= $(LIBEXECDIR)/gatehouse

CC          ?= cc
PYTHON      ?= /usr/bin/python3
PKG_CONFIG  ?= pkg-config

# Developer builds stop at any warning; packaging builds pass WERROR= and
# their own CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags, %optflags).
WERROR      ?= -Werror
WARN        := -Wall -Wextra $(WERROR) -Wshadow -Wformat=2 -Wmissing-prototypes \
               -Wstrict-prototypes -Wno-unused-parameter
HARDEN      := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
CSTD        := -std=c11 -D_GNU_SOURCE -DGH_VERSION='"$(VERSION)"' \
               -DGH_PKGDATADIR='"$(PKGDATADIR)"' \
               -DGH_LIBEXECDIR='"$(PKGLIBEXECDIR)"'
OPT         ?= -O2 -g
CFLAGS      ?=
CPPFLAGS    ?=
BASE_CFLAGS := $(CSTD) $(WARN) $(OPT) $(HARDEN) -fPIC -Icommon/include $(CPPFLAGS) $(CFLAGS)
LDFLAGS     ?=
BASE_LDFLAGS := -Wl,-z,relro -Wl,-z,now $(LDFLAGS)

SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
SAN_CFLAGS  := $(CSTD) $(WARN) -O1 -g -fPIC -Icommon/include $(SAN_FLAGS) $(CFLAGS)
SAN_LDFLAGS := $(SAN_FLAGS)

PKGS_COMMON := lmdb jansson inih libcrypto
COMMON_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS_COMMON) 2>/dev/null)
COMMON_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS_COMMON) 2>/dev/null) -lpthread
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

PROGRAMS    :=
CHECK_PROGRAMS :=
DIST        :=
UNIT_TESTS  :=
INTEG_TESTS :=
INSTALL_HOOKS :=
MANPAGES    :=
FUZZ_TARGETS :=

.PHONY: all
all: programs

include common/common.mk
include cli/cli.mk
include scanner/scanner.mk
-include $(filter-out common/common.mk cli/cli.mk scanner/scanner.mk tests/tests.mk bench/bench.mk,$(wildcard */*.mk))
include tests/tests.mk
include bench/bench.mk

.PHONY: programs dist-programs check-programs
programs: $(PROGRAMS)
dist-programs: $(DIST)
# What the tests need beyond what ships: never built by `make` or by a
# package's build.
check-programs: $(CHECK_PROGRAMS) $(UNIT_TESTS)

.PHONY: version
version:
	@echo $(VERSION)

# Generic compile rules: the same source compiled twice, once plain and once
# sanitized.  Component fragments may add per-directory flags through
# CFLAGS_<dir> (for example CFLAGS_milter).
build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(COMMON_CFLAGS) $(CFLAGS_$(firstword $(subst /, ,$*))) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(COMMON_CFLAGS) $(CFLAGS_$(firstword $(subst /, ,$*))) -MMD -MP -c $< -o $@

-include $(shell find build -name '*.d' -type f 2>/dev/null)

.PHONY: test check unit-test integration-test
# `make test` is what CI and the README run: it installs what is missing, then
# runs everything, sanitizers included.  The second make is needed because the
# pkg-config flags above are read when make starts, before deps may exist.
test: deps
	$(MAKE) check
	$(MAKE) test-packages

# The packages: the RPMs built and rpmlint-checked, the .debs built,
# lintian-checked and installed for real in clean Debian 12 roots
# (packaging/packaging.mk, packaging/install.mk).
.PHONY: test-packages
test-packages: rpm test-install

# pytest runs last so its summary closes the output.
check: programs check-programs unit-test fuzz integration-test

# Every libFuzzer target for FUZZ_TIME seconds each (CI: 20).
FUZZ_TIME ?= 20
.PHONY: fuzz
fuzz: $(FUZZ_TARGETS)

unit-test: check-programs
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./$$t; done

integration-test: programs check-programs
	$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(INTEG_TESTS)

.PHONY: deps
# Installs every Debian package the build, the tests and the demo need.
deps:
	./scripts/install-deps

.PHONY: demo
demo: deps
	$(MAKE) programs
	./scripts/demo

.PHONY: install
# Only what is installed is built (DIST), never the test and sanitizer builds:
# a package's `make install` must not need the test dependencies.
install: dist-programs $(INSTALL_HOOKS)

.PHONY: clean
clean:
	rm -rf build

.PHONY: dup
dup:
	duplicates
