# gatehouse-bridge: carries a producer domain's outbox to gatehouse-notifyd
# (docs/security.md).
# forward.c: the multi-host mode, over NATS JetStream (cluster/ghc.h).
BRIDGE_SRCS := bridge/main.c bridge/blog.c bridge/forward.c bridge/sharedata.c
BRIDGE_BIN  := build/gatehouse-bridge
CFLAGS_bridge := -Icluster $(shell $(PKG_CONFIG) --cflags libnats 2>/dev/null)
$(BRIDGE_BIN): $(BRIDGE_SRCS:%.c=build/%.o) build/libghcluster.a $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(GHC_LIBS) $(COMMON_LIBS)
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
