# gatehouse, the admin's command.
CLI_SRCS := $(wildcard cli/*.c)
CLI_BIN  := build/gatehouse
$(CLI_BIN): $(CLI_SRCS:%.c=build/%.o) $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)
PROGRAMS += $(CLI_BIN)
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
# sanitized): esc.c alone, no store.
CLI_UNIT_BINS := build/asan/tests/unit/test_cli_esc
$(CLI_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
		build/asan/cli/esc.o
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)
build/asan/tests/unit/test_cli_%.o build/tests/unit/test_cli_%.o: \
  CFLAGS_tests += -Icli
UNIT_TESTS += $(CLI_UNIT_BINS)
