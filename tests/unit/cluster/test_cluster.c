/*
 * test_cluster.c - libghcluster's pieces that need no server (cluster/ghc.h):
 * [nats] parsed and checked, subject and bucket names, %d in the secret
 * paths, the secret files' checks (links, modes) and NKey public keys.  The
 * connection itself is tested against a real three-node cluster in
 * tests/integration/cluster.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gatehouse/conf.h"
#include "../../../cluster/ghc.h"

static struct gh_conf *
parse(const char *text)
{
	struct gh_conf *c = NULL;
	char detail[512];

	assert_int_equal(gh_conf_parse(&c, text, "test", detail,
	                               sizeof(detail)), GH_OK);
	return c;
}

static void
test_opts(void **state)
{
	struct gh_conf *c = parse("[nats]\nhost = mx1\nreplicas = 3\n");
	struct ghc_opts o;
	char err[256], subj[GHC_SUBJECT_MAX];

	(void)state;
	/* no servers: the single-host mode */
	assert_int_equal(ghc_enabled(c), 0);
	assert_int_equal(ghc_opts_load(c, &o, err, sizeof(err)), GH_OK);
	assert_string_equal(o.host, "mx1");
	assert_string_equal(o.prefix, "gatehouse");
	assert_string_equal(o.stream, "GATEHOUSE_EVENTS");
	assert_int_equal(o.replicas, 3);
	assert_int_equal(o.ack_wait_ms, 60000);
	assert_int_equal(o.max_deliver, 10);
	assert_int_equal(ghc_subject(&o, "events", "mail", o.host, subj,
	                             sizeof(subj)), GH_OK);
	assert_string_equal(subj, "gatehouse.events.mail.mx1");
	assert_int_equal(ghc_bucket(&o, "hosts", subj, sizeof(subj)), GH_OK);
	assert_string_equal(subj, "gatehouse_hosts");
	/* a token never carries a wildcard or a dot */
	assert_int_equal(ghc_subject(&o, "events", "mail", "a.b", subj,
	                             sizeof(subj)), GH_EINVAL);
	assert_int_equal(ghc_subject(&o, "events", "*", "mx1", subj,
	                             sizeof(subj)), GH_EINVAL);
	assert_int_equal(ghc_subject(&o, "events", "mail", "mx1", subj, 10),
	                 GH_ETOOBIG);
	gh_conf_free(c);

	c = parse("[nats]\nservers = nats://127.0.0.1:4222\nhost = mx.1\n");
	assert_int_equal(ghc_enabled(c), 1);
	assert_int_equal(ghc_opts_load(c, &o, err, sizeof(err)), GH_ECONFIG);
	assert_non_null(strstr(err, "[nats] host"));
	gh_conf_free(c);
	c = parse("[nats]\nservers = ,\nsubject_prefix = a>b\n");
	assert_int_equal(ghc_enabled(c), 0);
	assert_int_equal(ghc_opts_load(c, &o, err, sizeof(err)), GH_ECONFIG);
	assert_non_null(strstr(err, "subject_prefix"));
	gh_conf_free(c);
}

static void
test_expand(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ghc_expand("/etc/gh/%d.creds", GH_DOMAIN_WEB, out,
	                            sizeof(out)), GH_OK);
	assert_string_equal(out, "/etc/gh/web.creds");
	assert_int_equal(ghc_expand("/x/%%d-%d", GH_DOMAIN_CORE, out,
	                            sizeof(out)), GH_OK);
	assert_string_equal(out, "/x/%d-core");
	assert_int_equal(ghc_expand("/x/%s", GH_DOMAIN_MAIL, out, sizeof(out)),
	                 GH_EINVAL);
	assert_int_equal(ghc_expand("/a/very/long/%d", GH_DOMAIN_LOGIN, out, 12),
	                 GH_ETOOBIG);
}

static void
test_secret(void **state)
{
	char dir[] = "/tmp/test_cluster.XXXXXX", path[128], link[128];
	char buf[128], err[512];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/core.nk", dir);
	snprintf(link, sizeof(link), "%s/link.nk", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "SUSECRET\n", 9), 9);
	close(fd);
	assert_int_equal(ghc_read_secret(path, buf, sizeof(buf), err,
	                                 sizeof(err)), GH_OK);
	assert_string_equal(buf, "SUSECRET\n");
	/* readable by the group: refused, and said why */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(ghc_read_secret(path, buf, sizeof(buf), err,
	                                 sizeof(err)), GH_EACCES);
	assert_non_null(strstr(err, "0640"));
	assert_int_equal(chmod(path, 0600), 0);
	/* a link is never followed */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(ghc_read_secret(link, buf, sizeof(buf), err,
	                                 sizeof(err)), GH_EACCES);
	assert_non_null(strstr(err, "symbolic link"));
	/* too big for the buffer */
	assert_int_equal(ghc_read_secret(path, buf, 4, err, sizeof(err)),
	                 GH_ETOOBIG);
	unlink(link);
	unlink(path);
	assert_int_equal(ghc_read_secret(path, buf, sizeof(buf), err,
	                                 sizeof(err)), GH_ENOTFOUND);
	rmdir(dir);
}

static void
test_nkey(void **state)
{
	/* seed bytes 0..31; the public key as nats-server computes it (and
	 * tests/integration/cluster/nkeys.py, which the cluster test's server
	 * accepts) */
	static const char seed[] =
	    "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
	char pub[64], bad[sizeof(seed)];

	(void)state;
	assert_int_equal(ghc_nkey_public(seed, pub, sizeof(pub)), GH_OK);
	assert_string_equal(pub,
	    "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK");
	memcpy(bad, seed, sizeof(seed));
	bad[20] = bad[20] == 'A' ? 'B' : 'A';   /* the CRC catches it */
	assert_int_equal(ghc_nkey_public(bad, pub, sizeof(pub)), GH_EINVAL);
	assert_int_equal(ghc_nkey_public("SUAAA", pub, sizeof(pub)), GH_EINVAL);
	assert_int_equal(ghc_nkey_public(seed, pub, 10), GH_EINVAL);
}

static void
test_nkey_make(void **state)
{
	/* seed bytes 0..31 encoded as tests/integration/cluster/nkeys.py
	 * does (the vector of test_nkey) */
	unsigned char raw[32];
	char seed[64], pub[64], seed2[64], pub2[64];

	(void)state;
	for (int i = 0; i < 32; i++)
		raw[i] = (unsigned char)i;
	assert_int_equal(ghc_nkey_seed(raw, seed, sizeof(seed)), GH_OK);
	assert_string_equal(seed,
	    "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y");
	assert_int_equal(ghc_nkey_seed(raw, seed, 58), GH_EINVAL);
	/* a made key: a user seed whose public key is the one printed, and
	 * a different one each time */
	assert_int_equal(ghc_nkey_make(seed, sizeof(seed), pub, sizeof(pub)),
	                 GH_OK);
	assert_int_equal(strlen(seed), 58);
	assert_int_equal(strlen(pub), 56);
	assert_memory_equal(seed, "SU", 2);
	assert_int_equal(pub[0], 'U');
	assert_int_equal(ghc_nkey_public(seed, pub2, sizeof(pub2)), GH_OK);
	assert_string_equal(pub, pub2);
	assert_int_equal(ghc_nkey_make(seed2, sizeof(seed2), pub2,
	                               sizeof(pub2)), GH_OK);
	assert_string_not_equal(seed, seed2);
	assert_int_equal(ghc_nkey_make(seed, 58, pub, sizeof(pub)), GH_EINVAL);
	assert_int_equal(ghc_nkey_make(seed, sizeof(seed), pub, 56), GH_EINVAL);
}

static void
test_open_refuses(void **state)
{
	struct gh_conf *c;
	struct ghc *g = NULL;
	char err[512];

	(void)state;
	c = parse("[nats]\nhost = h\n");
	assert_int_equal(ghc_open(c, GH_DOMAIN_CORE, &g, err, sizeof(err)),
	                 GH_ECONFIG);
	assert_null(g);
	gh_conf_free(c);
	c = parse("[nats]\nservers = http://x\nhost = h\n");
	assert_int_equal(ghc_open(c, GH_DOMAIN_CORE, &g, err, sizeof(err)),
	                 GH_ECONFIG);
	assert_non_null(strstr(err, "not a nats://"));
	gh_conf_free(c);
	c = parse("[nats]\nservers = nats://127.0.0.1:1\nhost = h\n"
	          "nkey_seed = /nonexistent/%d.nk\n");
	assert_int_equal(ghc_open(c, GH_DOMAIN_MAIL, &g, err, sizeof(err)),
	                 GH_ENOTFOUND);
	assert_non_null(strstr(err, "/nonexistent/mail.nk"));
	gh_conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_nkey),
		cmocka_unit_test(test_nkey_make),
		cmocka_unit_test(test_open_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
