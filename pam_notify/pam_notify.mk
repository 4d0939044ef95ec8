# pam_notify: pam_gatehouse.so, its unit tests, its test helpers and bench.
#
# The module links libgatehouse statically (built -fPIC) and exports only
# the pam_sm_* entry points (module.map).  Its test helpers are built by
# `make check-programs`, which the integration tests need.

PAM_SRCS := $(wildcard pam_notify/*.c)
# (pam_notify/writer/ holds the writer program's main, not the module's)
PAM_OBJS := $(PAM_SRCS:%.c=build/%.o)
# Everything but the PAM glue, for unit tests (no libpam needed there).
PAM_CORE_SAN_OBJS := $(filter-out build/asan/pam_notify/pam_gatehouse.o,\
                       $(PAM_SRCS:%.c=build/asan/%.o))
PAM_MODULE := build/pam_gatehouse.so

$(PAM_MODULE): $(PAM_OBJS) $(LIBGH) pam_notify/module.map
	$(CC) -shared $(BASE_LDFLAGS) -Wl,--version-script=pam_notify/module.map \
	  -Wl,-z,defs -o $@ $(PAM_OBJS) $(LIBGH) $(COMMON_LIBS) -lpam
PROGRAMS += $(PAM_MODULE)
.PHONY: pam
pam: $(PAM_MODULE)
# `gatehouse config check` parses each pam_gatehouse.so line with the
# module's own option parser.
$(CLI_BIN): build/pam_notify/options.o
CLI_PARTS += build/pam_notify/options.o
MANPAGES += docs/man/pam_gatehouse.8

# Where Linux-PAM looks for modules (Debian: /lib/<triplet>/security).
# The pam-auth-update profile is installed off: the admin turns it on.
PAMDIR ?= $(shell $(PKG_CONFIG) --variable=libdir pam 2>/dev/null)/security

.PHONY: install-pam
install-pam: $(PAM_MODULE)
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(DOCDIR)/examples/pam.d $(DESTDIR)$(DATADIR)/pam-configs
	install -m 0644 $(PAM_MODULE) $(DESTDIR)$(PAMDIR)/pam_gatehouse.so
	install -m 0644 docs/man/pam_gatehouse.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 conf/pam.d/sshd conf/pam.d/common-session \
	  conf/pam.d/common-auth $(DESTDIR)$(DOCDIR)/examples/pam.d/
	install -m 0644 conf/pam-configs/gatehouse $(DESTDIR)$(DATADIR)/pam-configs/gatehouse
INSTALL_HOOKS += install-pam
DIST += $(PAM_MODULE)

PAM_UNIT := test_options test_netkey test_store test_wire
PAM_UNIT_BINS := $(PAM_UNIT:%=build/asan/tests/unit/pam_notify/%)
$(PAM_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
                  $(PAM_CORE_SAN_OBJS) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $< $(PAM_CORE_SAN_OBJS) $(LIBGH_SAN) \
	  $(COMMON_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += $(PAM_UNIT_BINS)

# Helpers of tests/integration/pam_notify: a PAM application driver (pam_start_confdir)
# and a store tool (create, dump, lock-and-stop, fill).
PAM_TEST_DIR := build/tests/integration/pam_notify
$(PAM_TEST_DIR)/pamdrv: $(PAM_TEST_DIR)/pamdrv.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^ -lpam -lpthread
$(PAM_TEST_DIR)/storetool: $(PAM_TEST_DIR)/storetool.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)
CHECK_PROGRAMS += $(PAM_TEST_DIR)/pamdrv $(PAM_TEST_DIR)/storetool
# a program run where close_range fails (the descriptors' fallback)
$(PAM_TEST_DIR)/noclose: $(PAM_TEST_DIR)/noclose.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^
CHECK_PROGRAMS += $(PAM_TEST_DIR)/noclose

INTEG_TESTS += tests/integration/pam_notify

.PHONY: bench-pam
bench-pam: $(PAM_MODULE) $(PAM_TEST_DIR)/pamdrv $(PAM_TEST_DIR)/storetool
	./bench/pam/run

# The writer program (pam_notify/writer/main.c): the store work of modes
# detach and child, exec'd by the module's child as the store's owner.
# It ships in the gatehouse package (the module's package is Multi-Arch:
# same; one writer serves every architecture's module).
PAM_WRITER := build/gatehouse-pam-writer
PAM_WRITER_OBJS := build/pam_notify/writer/main.o \
  $(filter-out build/pam_notify/pam_gatehouse.o build/pam_notify/child.o,\
    $(PAM_OBJS))
$(PAM_WRITER): $(PAM_WRITER_OBJS) $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $(PAM_WRITER_OBJS) $(LIBGH) $(COMMON_LIBS)
PROGRAMS += $(PAM_WRITER)
DIST += $(PAM_WRITER)
pam: $(PAM_WRITER)

.PHONY: install-pam-writer
install-pam-writer: $(PAM_WRITER)
	install -d $(DESTDIR)$(PKGLIBEXECDIR)
	install -m 0755 $(PAM_WRITER) \
	  $(DESTDIR)$(PKGLIBEXECDIR)/gatehouse-pam-writer
INSTALL_HOOKS += install-pam-writer
# test_store's children exec the writer when they are not root
build/asan/tests/unit/pam_notify/test_store: | $(PAM_WRITER)
