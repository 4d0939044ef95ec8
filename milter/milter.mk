# milter/milter.mk - gatehouse-milter: the DKIM signing core
# (canonicalization, header handling, keys, signatures), the daemon around it
# (libmilter callbacks, policy, mail log, rate limits, opt-out, ClamAV
# scanning), their unit tests, the dkim-sign-file test driver used by
# tests/integration/milter_dkim, the Postfix integration tests in
# tests/integration/milter, and the fuzz target run by `make fuzz-milter`.

CFLAGS_milter := $(shell $(PKG_CONFIG) --cflags libcrypto 2>/dev/null)
MILTER_CRYPTO_LIBS := $(or $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null),-lcrypto)
MILTER_LIBS := $(or $(shell $(PKG_CONFIG) --libs milter 2>/dev/null),-lmilter) \
	$(or $(shell $(PKG_CONFIG) --libs libclamav 2>/dev/null),-lclamav) \
	$(MILTER_CRYPTO_LIBS)

# The DKIM core: pure C over OpenSSL libcrypto, no libmilter, no store;
# keys, base64 and error strings come from libgatehouse (dkimkey.c,
# codec.c, err.c).
MILTER_DKIM_SRCS := \
	milter/dkim/canon.c \
	milter/dkim/dkim.c \
	milter/dkim/dkim_sighdr.c \
	milter/dkim/hdrlist.c \
	milter/dkim/hdrparse.c \
	milter/dkim/sbuf.c
MILTER_DKIM_OBJS := $(MILTER_DKIM_SRCS:%.c=build/%.o)
MILTER_DKIM_SAN_OBJS := $(MILTER_DKIM_SRCS:%.c=build/asan/%.o)

# The daemon: everything above plus one file per concern.  main.c holds
# main(); the rest is shared with the unit tests.
MILTER_D_SRCS := \
	milter/addr.c \
	milter/callbacks.c \
	milter/proto.c \
	milter/limits.c \
	milter/maillog.c \
	milter/mcfg.c \
	milter/mconf.c \
	milter/mlog.c \
	milter/msg.c \
	milter/mstore.c \
	milter/netlist.c \
	milter/optout.c \
	milter/policy.c \
	milter/scan.c \
	milter/signtable.c \
	milter/sockperm.c
MILTER_D_OBJS := $(MILTER_D_SRCS:%.c=build/%.o)
MILTER_D_SAN_OBJS := $(MILTER_D_SRCS:%.c=build/asan/%.o)

# What `gatehouse config check` links to say what the milter would: its
# settings and keys (mconf.c) and what they need, without libmilter or
# libclamav (cli/cli.mk).
MILTER_CHECK_SRCS := milter/mconf.c milter/netlist.c milter/signtable.c \
	milter/sockperm.c milter/addr.c
MILTER_CHECK_OBJS := $(MILTER_CHECK_SRCS:%.c=build/%.o) $(MILTER_DKIM_OBJS)
$(CLI_BIN): $(MILTER_CHECK_OBJS)
CLI_PARTS += $(MILTER_CHECK_OBJS)

MILTER_BIN := build/gatehouse-milter
# libgscan (scanner/scanner.mk) before libgatehouse: it uses gh_err.
$(MILTER_BIN): build/milter/main.o $(MILTER_D_OBJS) $(MILTER_DKIM_OBJS) \
		$(LIBGSCAN) $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(MILTER_LIBS)

# The same daemon with ASan+UBSan, which the integration tests run so that
# every message Postfix hands it doubles as a memory-error check.
MILTER_SAN_BIN := build/tests/gatehouse-milter-asan
$(MILTER_SAN_BIN): build/asan/milter/main.o $(MILTER_D_SAN_OBJS) \
		$(MILTER_DKIM_SAN_OBJS) $(LIBGSCAN_SAN) $(LIBGH_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(MILTER_LIBS)

PROGRAMS += $(MILTER_BIN)
CHECK_PROGRAMS += $(MILTER_SAN_BIN)
.PHONY: milter
milter: $(MILTER_BIN)
MANPAGES += docs/man/gatehouse-milter.8

.PHONY: install-milter
install-milter: $(MILTER_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(MILTER_BIN) $(DESTDIR)$(SBINDIR)/gatehouse-milter
	install -m 0644 docs/man/gatehouse-milter.8 $(DESTDIR)$(MANDIR)/man8/
INSTALL_HOOKS += install-milter
DIST += $(MILTER_BIN)

# Unit tests (cmocka, sanitized objects), named like the library's.
MILTER_UNIT_BINS := build/asan/tests/unit/milter/test_dkim_canon \
	build/asan/tests/unit/milter/test_dkim
$(MILTER_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
		$(MILTER_DKIM_SAN_OBJS) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(MILTER_CRYPTO_LIBS)

UNIT_TESTS += $(MILTER_UNIT_BINS)

# Unit tests of the daemon's parts (no libmilter main loop, no Postfix).
# test_milter_scan: the scanner in the milter's terms (zlib makes its
# archives, tests/unit/gscan_fixture.h).
MILTER_D_UNIT_BINS := build/asan/tests/unit/milter/test_policy \
	build/asan/tests/unit/milter/test_store \
	build/asan/tests/unit/milter/test_scan
$(MILTER_D_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o \
		$(MILTER_D_SAN_OBJS) $(MILTER_DKIM_SAN_OBJS) $(LIBGSCAN_SAN) \
		$(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(COMMON_LIBS) $(MILTER_LIBS) -lz

UNIT_TESTS += $(MILTER_D_UNIT_BINS)

# Test driver for the independent verifiers (sanitized, so the integration
# corpus doubles as a memory-error check).
MILTER_DKIM_DRIVER := build/tests/dkim-sign-file
$(MILTER_DKIM_DRIVER): \
		build/asan/tests/integration/milter_dkim/dkim_sign_file.o \
		$(MILTER_DKIM_SAN_OBJS) $(LIBGH_SAN)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(MILTER_CRYPTO_LIBS)

CHECK_PROGRAMS += $(MILTER_DKIM_DRIVER)
INTEG_TESTS += tests/integration/milter_dkim tests/integration/milter

# libFuzzer target: header parser + canonicalizers.  Built with clang
# straight from the sources (libFuzzer needs its own instrumentation), run
# for FUZZ_TIME seconds on a scratch corpus seeded from the checked-in one.
FUZZ_CC   ?= clang
MILTER_FUZZ_FLAGS := $(CSTD) $(WARN) -g -O1 -Icommon/include \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
MILTER_FUZZ_SRCS := milter/dkim/canon.c milter/dkim/hdrparse.c milter/dkim/hdrlist.c

build/fuzz/fuzz_dkim_canon: tests/fuzz/fuzz_dkim_canon.c $(MILTER_FUZZ_SRCS) \
		milter/dkim/canon.h milter/dkim/hdrparse.h milter/dkim/hdrlist.h
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

# The milter benchmark (bench/milter/README.md): Postfix with no milter,
# a null libmilter milter (the floor under any milter), OpenDKIM, and
# gatehouse-milter signing only and with everything on.
NULL_MILTER := build/bench/milter/null_milter
build/bench/milter/null_milter.o: CFLAGS_bench += -Imilter
$(NULL_MILTER): build/bench/milter/null_milter.o build/milter/proto.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(MILTER_LIBS)

.PHONY: bench-milter
bench-milter: $(MILTER_BIN) $(CLI_BIN) $(NULL_MILTER)
	$(PYTHON) bench/milter/run $(BENCH_MILTER_ARGS)
