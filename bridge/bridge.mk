# gatehouse-bridge: carries a producer domain's outbox to gatehouse-notifyd
# (docs/security.md).
BRIDGE_SRCS := bridge/main.c
BRIDGE_BIN  := build/gatehouse-bridge
$(BRIDGE_BIN): $(BRIDGE_SRCS:%.c=build/%.o) $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)
PROGRAMS += $(BRIDGE_BIN)
.PHONY: bridge
bridge: $(BRIDGE_BIN)
MANPAGES += docs/man/gatehouse-bridge.8

.PHONY: install-bridge
install-bridge: $(BRIDGE_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BRIDGE_BIN) $(DESTDIR)$(SBINDIR)/gatehouse-bridge
	install -m 0644 docs/man/gatehouse-bridge.8 $(DESTDIR)$(MANDIR)/man8/
INSTALL_HOOKS += install-bridge
DIST += $(BRIDGE_BIN)
