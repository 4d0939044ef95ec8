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
build/asan/tests/unit/test_gscan: build/asan/tests/unit/test_gscan.o \
		$(LIBGSCAN_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(GSCAN_LIBS) $(COMMON_LIBS) -lz

UNIT_TESTS += build/asan/tests/unit/test_gscan
