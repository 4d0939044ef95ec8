# gatehouse, the admin's command.
# `config check` runs each part's own checks, so it links their code: the
# milter's settings (no libmilter, no libclamav), notifyd's runtime and
# channels (libcurl: the gatehouse package ships notifyd beside it) and
# pam_gatehouse's option parser.  Each component's .mk adds its objects
# to CLI_PARTS and CLI_PARTS_LIBS; the recipe expands them when it runs,
# after every fragment was read.
# `cluster status` (cmd_cluster.c) links libghcluster (cluster/cluster.mk).
CLI_SRCS := $(wildcard cli/*.c)
CLI_BIN  := build/gatehouse
CLI_PARTS :=
CLI_PARTS_LIBS :=
CFLAGS_cli := -Icluster $(shell $(PKG_CONFIG) --cflags libnats 2>/dev/null)
$(CLI_BIN): $(CLI_SRCS:%.c=build/%.o) build/libghcluster.a $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $(CLI_SRCS:%.c=build/%.o) $(CLI_PARTS) \
	  build/libghcluster.a $(LIBGH) $(CLI_PARTS_LIBS) $(GHC_LIBS) \
	  $(COMMON_LIBS)
PROGRAMS += $(CLI_BIN)
.PHONY: cli
cli: $(CLI_BIN)
MANPAGES += docs/man/gatehouse.1 docs/man/gatehouse.conf.5

.PHONY: install-cli
# gatehouse.conf is installed only where there is none (never over an
# admin's); it holds no secret, so every part may read it (docs/security.md).
install-cli: $(CLI_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/gatehouse
	install -m 0644 docs/man/gatehouse.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/gatehouse.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(SYSCONFDIR)/gatehouse
	[ -e $(DESTDIR)$(SYSCONFDIR)/gatehouse/gatehouse.conf ] || \
	  install -m 0644 conf/gatehouse.conf $(DESTDIR)$(SYSCONFDIR)/gatehouse/gatehouse.conf
INSTALL_HOOKS += install-cli
DIST += $(CLI_BIN)

# Unit test of the escaped output every print path goes through (cmocka,
# sanitized): esc.c and the library's UTF-8 decoder, no store.
CLI_UNIT_BINS := build/asan/tests/unit/cli/test_esc
$(CLI_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
		build/asan/cli/esc.o $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(CMOCKA_LIBS)
build/asan/tests/unit/cli/%.o build/tests/unit/cli/%.o: \
  CFLAGS_tests += -Icli
UNIT_TESTS += $(CLI_UNIT_BINS)
