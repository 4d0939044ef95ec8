# scanner/scanner.mk - libgscan, the libclamav scanner shared by
# gatehouse-milter and the nginx module (scanner/gscan.h), and its unit
# tests.  Static and -fPIC like libgatehouse (the nginx module is a shared
# object), but a library of its own: libgatehouse is linked by the CLI and
# the PAM module too, which must not pull in libclamav.  Included before the
# other components' fragments (Makefile), which name $(LIBGSCAN) in their
# prerequisites.

CFLAGS_scanner := $(shell $(PKG_CONFIG) --cflags libclamav libcrypto 2>/dev/null)
GSCAN_LIBS := $(or $(shell $(PKG_CONFIG) --libs libclamav 2>/dev/null),-lclamav) \
	$(or $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null),-lcrypto) -lpthread

GSCAN_SRCS := scanner/gscan.c scanner/gscan_clamd.c scanner/gscache.c
GSCAN_OBJS := $(GSCAN_SRCS:%.c=build/%.o)
GSCAN_SAN_OBJS := $(GSCAN_SRCS:%.c=build/asan/%.o)

LIBGSCAN     := build/libgscan.a
LIBGSCAN_SAN := build/asan/libgscan.a

$(LIBGSCAN): $(GSCAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBGSCAN_SAN): $(GSCAN_SAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

PROGRAMS += $(LIBGSCAN)
# Not installed: the milter and the module link it statically.

# Unit tests: every verdict with a generated signature database and real
# archives, the guard as a pure function.
build/asan/tests/unit/scanner/test_gscan: build/asan/tests/unit/scanner/test_gscan.o \
		$(LIBGSCAN_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(GSCAN_LIBS) $(COMMON_LIBS) -lz

UNIT_TESTS += build/asan/tests/unit/scanner/test_gscan

# The clamd reply parser, the verdict cache's records through a real
# store, the engine key.
build/asan/tests/unit/scanner/test_gscan_cache: build/asan/tests/unit/scanner/test_gscan_cache.o \
		$(LIBGSCAN_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(GSCAN_LIBS) $(COMMON_LIBS) -lz

UNIT_TESTS += build/asan/tests/unit/scanner/test_gscan_cache

# libFuzzer target: the parse of clamd's replies (make fuzz-gscan).
GSCAN_FUZZ_FLAGS := $(CSTD) $(WARN) -g -O1 -Icommon/include \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

build/fuzz/fuzz_clamd_reply: tests/fuzz/fuzz_clamd_reply.c \
		scanner/gscan.c scanner/gscan_clamd.c \
		scanner/gscan.h scanner/gscan_int.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(GSCAN_FUZZ_FLAGS) $(CFLAGS_scanner) -o $@ \
		tests/fuzz/fuzz_clamd_reply.c scanner/gscan.c \
		scanner/gscan_clamd.c $(GSCAN_LIBS)

.PHONY: fuzz-gscan
fuzz-gscan: build/fuzz/fuzz_clamd_reply
	@mkdir -p build/fuzz/corpus-clamd_reply
	@echo "fuzz: fuzz_clamd_reply for $(FUZZ_TIME)s (log: build/fuzz/clamd_reply.log)"
	@./build/fuzz/fuzz_clamd_reply -max_total_time=$(FUZZ_TIME) \
		-max_len=4096 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-clamd_reply tests/fuzz/corpus/clamd_reply \
		> build/fuzz/clamd_reply.log 2>&1 || \
		{ tail -50 build/fuzz/clamd_reply.log; exit 1; }
	@grep -E "^Done|stat::number_of_executed_units" build/fuzz/clamd_reply.log || true

FUZZ_TARGETS += fuzz-gscan
