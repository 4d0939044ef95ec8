# Unit tests of libgatehouse and the CLI's integration tests.
# Each tests/unit/common/test_X.c of the library becomes build/asan/tests/unit/common/test_X,
# linked against the sanitized library.

LIB_UNIT := test_store test_queue test_conf test_token test_records test_group \
            test_pidfile test_journal test_retention test_domain_policy \
            test_uploads test_maillog test_knownhosts test_deliveries \
            test_event test_text test_file test_reopen test_err
LIB_UNIT_BINS := $(LIB_UNIT:%=build/asan/tests/unit/common/%)

$(LIB_UNIT_BINS): build/asan/tests/unit/%: build/asan/tests/unit/%.o $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += $(LIB_UNIT_BINS)

# The multi-process kill test: plain build (speed), run by pytest.
KILLTEST := build/tests/killtest
$(KILLTEST): build/tests/killtest.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)
CHECK_PROGRAMS += $(KILLTEST)

INTEG_TESTS += tests/integration/common
# The hostile-producer suite: each attack run as the attacker's uid.
INTEG_TESTS += tests/security

# The multi-process kill test, 20 rounds in a row (make test runs 2).
.PHONY: killtest
killtest: $(KILLTEST) $(CLI_BIN)
	ROUNDS=20 $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/common/test_killtest.py

# Retention (docs/store.md): 60 simulated days against gatehouse-notifyd's
# test clock, the bridges' and the CLI's purge.  rectool writes the
# producers' records stamped with the simulated time.
RECTOOL := build/tests/integration/retention/rectool
$(RECTOOL): build/tests/integration/retention/rectool.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)
CHECK_PROGRAMS += $(RECTOOL)
INTEG_TESTS += tests/integration/retention
