# milter/milter.mk - gatehouse-milter.  So far: the DKIM signing core
# (canonicalization, header handling, keys, signatures), its unit tests, the
# dkim-sign-file test driver used by tests/integration/milter_dkim, and the
# fuzz target run by `make fuzz-milter`.

CFLAGS_milter := $(shell $(PKG_CONFIG) --cflags libcrypto 2>/dev/null)
MILTER_CRYPTO_LIBS := $(or $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null),-lcrypto)

# The DKIM core: pure C over OpenSSL libcrypto, no libmilter, no store;
# base64 and error strings come from libgatehouse (codec.c, err.c).
MILTER_DKIM_SRCS := \
	milter/canon.c \
	milter/dkim.c \
	milter/dkim_key.c \
	milter/dkim_sighdr.c \
	milter/hdrlist.c \
	milter/hdrparse.c \
	milter/sbuf.c
MILTER_DKIM_OBJS := $(MILTER_DKIM_SRCS:%.c=build/%.o)
MILTER_DKIM_SAN_OBJS := $(MILTER_DKIM_SRCS:%.c=build/asan/%.o)

# Unit tests (cmocka, sanitized objects), named like the library's.
MILTER_UNIT_BINS := build/asan/tests/unit/test_dkim_canon \
	build/asan/tests/unit/test_dkim
$(MILTER_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
		$(MILTER_DKIM_SAN_OBJS) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(MILTER_CRYPTO_LIBS)

UNIT_TESTS += $(MILTER_UNIT_BINS)

# Test driver for the independent verifiers (sanitized, so the integration
# corpus doubles as a memory-error check).
MILTER_DKIM_DRIVER := build/tests/dkim-sign-file
$(MILTER_DKIM_DRIVER): \
		build/asan/tests/integration/milter_dkim/dkim_sign_file.o \
		$(MILTER_DKIM_SAN_OBJS) $(LIBGH_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(MILTER_CRYPTO_LIBS)

PROGRAMS += $(MILTER_DKIM_DRIVER)
INTEG_TESTS += tests/integration/milter_dkim

# libFuzzer target: header parser + canonicalizers.  Built with clang
# straight from the sources (libFuzzer needs its own instrumentation), run
# for FUZZ_TIME seconds on a scratch corpus seeded from the checked-in one.
FUZZ_CC   ?= clang
MILTER_FUZZ_FLAGS := $(CSTD) $(WARN) -g -O1 -Icommon/include \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
MILTER_FUZZ_SRCS := milter/canon.c milter/hdrparse.c milter/hdrlist.c

build/fuzz/fuzz_dkim_canon: tests/fuzz/fuzz_dkim_canon.c $(MILTER_FUZZ_SRCS) \
		milter/canon.h milter/hdrparse.h milter/hdrlist.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(MILTER_FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_dkim_canon.c \
		$(MILTER_FUZZ_SRCS) $(MILTER_CRYPTO_LIBS)

.PHONY: fuzz-milter
fuzz-milter: build/fuzz/fuzz_dkim_canon
	@mkdir -p build/fuzz/corpus-dkim_canon
	@echo "fuzz: fuzz_dkim_canon for $(FUZZ_TIME)s (log: build/fuzz/dkim_canon.log)"
	@./build/fuzz/fuzz_dkim_canon -max_total_time=$(FUZZ_TIME) \
		-max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-dkim_canon tests/fuzz/corpus/dkim_canon \
		> build/fuzz/dkim_canon.log 2>&1 || \
		{ tail -50 build/fuzz/dkim_canon.log; exit 1; }
	@grep -E "^Done|stat::number_of_executed_units" build/fuzz/dkim_canon.log || true

FUZZ_TARGETS += fuzz-milter
