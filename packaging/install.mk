# packaging/install.mk - `make test-install`: the Debian packages installed
# for real on clean Debian 12 roots (tests/install/run): Postfix, nginx and
# PAM with every daemon started from its unit, then Sendmail; apt purge.
# Needs root, mmdebstrap and the network to the Debian archive (base roots
# are cached in /var/cache/gatehouse-install-test/).  Logs and the summary:
# build/install-test/.
#
#   make test-install                       build the .debs, test them
#   tests/install/run --debs DIR [--only postfix|sendmail] [--keep]

.PHONY: test-install
test-install: deps
	$(PYTHON) tests/install/run
