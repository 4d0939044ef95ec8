# cluster/shared.mk - unit test of the shared data (cluster/shared.h,
# gatehouse/replog.h): the replication log, KV key encoding and applying
# bucket entries to a store (no server needed; tests/integration/cluster
# runs a real cluster).
SHARED_UNIT := build/asan/tests/unit/cluster/test_shared
$(SHARED_UNIT): build/asan/tests/unit/cluster/test_shared.o \
                build/asan/libghcluster.a $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(GHC_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
build/asan/tests/unit/cluster/test_shared.o build/tests/unit/cluster/test_shared.o: \
  CFLAGS_tests += -Icluster $(CFLAGS_cluster)
UNIT_TESTS += $(SHARED_UNIT)
