# notifyd/notifyd.mk - gatehouse-notifyd, the notification dispatcher.
#
# The daemon's building blocks (Web Push crypto, webhook signatures,
# templates, time zones and quiet hours, retry policy, payloads, MIME) are
# small files collected in one static archive, so each unit test links only
# what it uses.  Everything here must build without deprecated OpenSSL calls.

CFLAGS_notifyd := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null) \
                  -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED
NOTIFYD_LIBS := $(shell $(PKG_CONFIG) --libs openssl jansson 2>/dev/null)

NOTIFYD_CORE := utf8 webpush_crypt sign civil tzfile tzcache quiet backoff \
                breaker ratelimit template payload mime
NOTIFYD_CORE_SRCS := $(NOTIFYD_CORE:%=notifyd/%.c)
NOTIFYD_CORE_SAN := build/asan/notifyd/libnotifyd.a

$(NOTIFYD_CORE_SAN): $(NOTIFYD_CORE_SRCS:%.c=build/asan/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Unit tests: tests/unit/test_notify_X.c -> build/asan/tests/unit/test_notify_X
NOTIFYD_UNIT := test_notify_webpush test_notify_sign test_notify_quiet \
                test_notify_backoff test_notify_breaker test_notify_template \
                test_notify_payload test_notify_mime
NOTIFYD_UNIT_BINS := $(NOTIFYD_UNIT:%=build/asan/tests/unit/%)

$(NOTIFYD_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
                      $(NOTIFYD_CORE_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)

# The tests include the daemon's private headers by their plain names.
build/asan/tests/unit/test_notify_%.o build/tests/unit/test_notify_%.o: \
  CFLAGS_tests += -Inotifyd $(CFLAGS_notifyd)

UNIT_TESTS += $(NOTIFYD_UNIT_BINS)
