# cluster/cluster.mk - libghcluster: the multi-host mode's link to NATS
# JetStream (cluster/ghc.h, docs/cluster.md), linked by the bridges,
# notifyd and the CLI.  Static and -fPIC like libgatehouse; never installed.
# Other fragments name the archives by path (build/libghcluster.a): they
# may be read before this one.

CFLAGS_cluster := $(shell $(PKG_CONFIG) --cflags libnats 2>/dev/null)
GHC_LIBS := $(shell $(PKG_CONFIG) --libs libnats 2>/dev/null)

GHC_SRCS := $(wildcard cluster/*.c)
GHC_LIB := build/libghcluster.a
GHC_LIB_SAN := build/asan/libghcluster.a

$(GHC_LIB): $(GHC_SRCS:%.c=build/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(GHC_LIB_SAN): $(GHC_SRCS:%.c=build/asan/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

PROGRAMS += $(GHC_LIB)

# Unit test: subjects, tokens, %d, the secret files' checks, NKeys (no
# server needed; tests/integration/cluster runs a real cluster).
GHC_UNIT := build/asan/tests/unit/cluster/test_cluster
$(GHC_UNIT): build/asan/tests/unit/cluster/test_cluster.o $(GHC_LIB_SAN) $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(GHC_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
build/asan/tests/unit/cluster/test_cluster.o build/tests/unit/cluster/test_cluster.o: \
  CFLAGS_tests += -Icluster $(CFLAGS_cluster)
UNIT_TESTS += $(GHC_UNIT)
INTEG_TESTS += tests/integration/cluster
