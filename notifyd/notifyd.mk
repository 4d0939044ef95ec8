# notifyd/notifyd.mk - gatehouse-notifyd, the notification dispatcher.
#
# The daemon's building blocks (Web Push crypto, webhook signatures,
# templates, time zones and quiet hours, retry policy, payloads, MIME, the
# classes of network addresses, the gate/attempt/verdict decisions) are
# small files collected in one static archive, so each unit test links
# only what it uses.  Everything here must
# build without deprecated OpenSSL calls.
#
#   make notifyd              build/gatehouse-notifyd
#   make check-programs       ... and its test builds (the test clock)
#   make notify-crashtest     the crash test, 10 rounds (make test runs 1)
#   make bench-notify         notifyd against Apprise (bench/notify/run)

CFLAGS_notifyd := $(shell $(PKG_CONFIG) --cflags openssl libcurl 2>/dev/null) \
                  -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
                  -Icluster $(shell $(PKG_CONFIG) --cflags libnats 2>/dev/null)
NOTIFYD_LIBS := $(shell $(PKG_CONFIG) --libs openssl jansson 2>/dev/null)
NOTIFYD_CURL_LIBS := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)

NOTIFYD_CORE := webpush_crypt sign civil tzfile tzcache quiet backoff \
                breaker ratelimit template payload mime netaddr gate
NOTIFYD_CORE_SRCS := $(NOTIFYD_CORE:%=notifyd/core/%.c)
NOTIFYD_CORE_SAN := build/asan/notifyd/libnotifyd.a
NOTIFYD_CORE_LIB := build/notifyd/libnotifyd.a

$(NOTIFYD_CORE_SAN): $(NOTIFYD_CORE_SRCS:%.c=build/asan/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(NOTIFYD_CORE_LIB): $(NOTIFYD_CORE_SRCS:%.c=build/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The daemon: a file per concern (nd.h lists them) and a file per channel
# kind.  clock.c is the production clock; the test builds swap in
# clock_test.c, which compiles the same file with the injectable clock
# (GATEHOUSE_TEST_CLOCK) that the installed daemon never reads.  The
# integration tests run the sanitized test build, so every test is also a
# memory-error check.
NOTIFYD_DAEMON := main log channel http runtime check resolve intake \
                  deliveries digest dispatch job start send outcome settle \
                  metrics pickup retention webreq natsin kvsync \
                  channels/webhook channels/smtp channels/inbox \
                  channels/chat channels/sms channels/ntfy channels/gotify \
                  channels/webpush
NOTIFYD_DAEMON_OBJS := $(NOTIFYD_DAEMON:%=build/notifyd/%.o)
NOTIFYD_BIN := build/gatehouse-notifyd
NOTIFYD_TEST_BIN := build/tests/gatehouse-notifyd-test
NOTIFYD_SAN_BIN := build/asan/tests/gatehouse-notifyd-test

# natsin.c, the multi-host mode, links libghcluster (cluster/cluster.mk).
$(NOTIFYD_BIN): $(NOTIFYD_DAEMON_OBJS) build/notifyd/clock.o \
                $(NOTIFYD_CORE_LIB) build/libghcluster.a $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(NOTIFYD_CURL_LIBS) $(NOTIFYD_LIBS) \
	  $(GHC_LIBS) $(COMMON_LIBS)

$(NOTIFYD_TEST_BIN): $(NOTIFYD_DAEMON_OBJS) build/notifyd/clock_test.o \
                     $(NOTIFYD_CORE_LIB) build/libghcluster.a $(LIBGH)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(NOTIFYD_CURL_LIBS) $(NOTIFYD_LIBS) \
	  $(GHC_LIBS) $(COMMON_LIBS)

$(NOTIFYD_SAN_BIN): $(NOTIFYD_DAEMON_OBJS:build/%=build/asan/%) \
                    build/asan/notifyd/clock_test.o $(NOTIFYD_CORE_SAN) \
                    build/asan/libghcluster.a $(LIBGH_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(NOTIFYD_CURL_LIBS) $(NOTIFYD_LIBS) \
	  $(GHC_LIBS) $(COMMON_LIBS)

# What `gatehouse config check` links to say what --check would say
# (notifyd/check.h): the daemon's objects but main, as an archive so that
# only what the check reaches is pulled in.
NOTIFYD_CHECK_LIB := build/notifyd/libnotifyd-check.a
$(NOTIFYD_CHECK_LIB): $(filter-out build/notifyd/main.o,$(NOTIFYD_DAEMON_OBJS)) \
                      build/notifyd/clock.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(CLI_BIN): $(NOTIFYD_CHECK_LIB) $(NOTIFYD_CORE_LIB)
CLI_PARTS += $(NOTIFYD_CHECK_LIB) $(NOTIFYD_CORE_LIB)
CLI_PARTS_LIBS += $(NOTIFYD_CURL_LIBS) $(NOTIFYD_LIBS)

PROGRAMS += $(NOTIFYD_BIN)
CHECK_PROGRAMS += $(NOTIFYD_TEST_BIN) $(NOTIFYD_SAN_BIN)
.PHONY: notifyd
notifyd: $(NOTIFYD_BIN)
MANPAGES += docs/man/gatehouse-notifyd.8
INTEG_TESTS += tests/integration/notifyd

# Installs the daemon, its page and the shipped templates, which the daemon
# reads from PKGDATADIR/templates; an admin's own go in /etc/gatehouse/templates.
# The English templates are the top level, every other language a
# subdirectory named by its tag (conf/templates/ko).
TEMPLATE_FILES := $(filter-out $(wildcard conf/templates/*/),$(wildcard conf/templates/*.*))
TEMPLATE_LANGS := $(notdir $(patsubst %/,%,$(wildcard conf/templates/*/)))

.PHONY: install-notifyd
install-notifyd: $(NOTIFYD_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(PKGDATADIR)/templates
	install -m 0755 $(NOTIFYD_BIN) $(DESTDIR)$(SBINDIR)/gatehouse-notifyd
	install -m 0644 docs/man/gatehouse-notifyd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(TEMPLATE_FILES) $(DESTDIR)$(PKGDATADIR)/templates/
	for l in $(TEMPLATE_LANGS); do \
	  install -d $(DESTDIR)$(PKGDATADIR)/templates/$$l && \
	  install -m 0644 conf/templates/$$l/*.* \
	    $(DESTDIR)$(PKGDATADIR)/templates/$$l/ || exit 1; \
	done
INSTALL_HOOKS += install-notifyd
DIST += $(NOTIFYD_BIN)

# Unit tests: tests/unit/notifyd/test_X.c -> build/asan/tests/unit/notifyd/test_X
NOTIFYD_UNIT := test_webpush test_sign test_quiet \
                test_backoff test_breaker test_template \
                test_payload test_mime test_netaddr \
                test_gate
NOTIFYD_UNIT_BINS := $(NOTIFYD_UNIT:%=build/asan/tests/unit/notifyd/%)

$(NOTIFYD_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
                      $(NOTIFYD_CORE_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)

# The tests include the daemon's private headers by their paths.
build/asan/tests/unit/notifyd/%.o build/tests/unit/notifyd/%.o: \
  CFLAGS_tests += -Inotifyd $(CFLAGS_notifyd)

UNIT_TESTS += $(NOTIFYD_UNIT_BINS)

# The web face's requests (webreq.c): the file itself, on libgatehouse.
NOTIFYD_WEBREQ_UNIT := build/asan/tests/unit/notifyd/test_webreq
$(NOTIFYD_WEBREQ_UNIT): build/asan/tests/unit/notifyd/test_webreq.o \
                        build/asan/notifyd/webreq.o $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += $(NOTIFYD_WEBREQ_UNIT)

# Contacts, preferences and the inbox live in libgatehouse (users.h): their
# unit test needs only the library.
NOTIFYD_LIB_UNIT := build/asan/tests/unit/common/test_users
$(NOTIFYD_LIB_UNIT): build/asan/tests/unit/common/test_users.o $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += $(NOTIFYD_LIB_UNIT)

# The crash test (test_notifyd_crash.py), 10 rounds in a row.
.PHONY: notify-crashtest
notify-crashtest: $(NOTIFYD_SAN_BIN) $(CLI_BIN)
	ROUNDS=10 $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/integration/notifyd/test_notifyd_crash.py

# bench/notify: the producer it uses, and the run (see bench/notify/run).
BENCH_NOTIFY := build/bench/notify/bench_enqueue
$(BENCH_NOTIFY): build/bench/notify/bench_enqueue.o $(LIBGH)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

.PHONY: bench-notify
bench-notify: $(BENCH_NOTIFY) $(NOTIFYD_BIN) $(CLI_BIN)
	$(PYTHON) bench/notify/run

# libFuzzer target: what notifyd's pickup makes of a packet from a
# producer's bridge (gh_domain_accept), with its promises checked on every
# accepted event.  Built with clang from the library's sources.
BRIDGE_FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS_COMMON) 2>/dev/null) -lpthread
build/fuzz/fuzz_bridge_event: tests/fuzz/fuzz_bridge_event.c $(COMMON_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(WARN) -g -O1 -Icommon/include -Icommon/src \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ tests/fuzz/fuzz_bridge_event.c $(COMMON_SRCS) $(BRIDGE_FUZZ_LIBS)

.PHONY: fuzz-bridge
fuzz-bridge: build/fuzz/fuzz_bridge_event
	@mkdir -p build/fuzz/corpus-bridge_event
	@echo "fuzz: fuzz_bridge_event for $(FUZZ_TIME)s (log: build/fuzz/bridge_event.log)"
	@./build/fuzz/fuzz_bridge_event -max_total_time=$(FUZZ_TIME) \
		-max_len=81920 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-bridge_event tests/fuzz/corpus/bridge_event \
		> build/fuzz/bridge_event.log 2>&1 || \
		{ tail -50 build/fuzz/bridge_event.log; exit 1; }
	@grep -E "^Done|stat::number_of_executed_units" build/fuzz/bridge_event.log || true

FUZZ_TARGETS += fuzz-bridge
