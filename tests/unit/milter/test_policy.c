/*
 * test_policy.c - unit tests of gatehouse-milter's decisions that
 * need neither libmilter nor an MTA: internal networks (netlist.c), From
 * and envelope addresses (addr.c), outgoing and bulk classification with a
 * fake macro lookup (policy.c), the signing table and its key directory
 * (signtable.c), the runtime configuration (mcfg.c) and List-Unsubscribe
 * values (optout.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "gatehouse/conf.h"
#include "gatehouse/token.h"
#include "../../../milter/addr.h"
#include "../../../milter/mcfg.h"
#include "../../../milter/msg.h"
#include "../../../milter/netlist.h"
#include "../../../milter/optout.h"
#include "../../../milter/policy.h"
#include "../../../milter/signtable.h"

/* ---- netlist ---- */

static void
test_netlist(void **state)
{
	struct gm_netlist l;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	char d[256];

	(void)state;
	assert_int_equal(gm_netlist_parse("127.0.0.0/8, ::1 10.1.0.0/16 "
	                                  "192.0.2.7 2001:db8::/32", &l, d,
	                                  sizeof(d)), GH_OK);
	assert_int_equal(l.n, 5);
	assert_true(gm_netlist_match_str(&l, "127.0.0.1"));
	assert_true(gm_netlist_match_str(&l, "127.255.1.2"));
	assert_false(gm_netlist_match_str(&l, "128.0.0.1"));
	assert_true(gm_netlist_match_str(&l, "10.1.200.3"));
	assert_false(gm_netlist_match_str(&l, "10.2.0.1"));
	assert_true(gm_netlist_match_str(&l, "192.0.2.7"));
	assert_false(gm_netlist_match_str(&l, "192.0.2.8"));
	assert_true(gm_netlist_match_str(&l, "::1"));
	assert_false(gm_netlist_match_str(&l, "::2"));
	assert_true(gm_netlist_match_str(&l, "2001:db8:ffff::1"));
	assert_false(gm_netlist_match_str(&l, "2001:db9::1"));
	/* IPv4-mapped IPv6 matches the IPv4 network */
	assert_true(gm_netlist_match_str(&l, "::ffff:10.1.2.3"));
	assert_false(gm_netlist_match_str(&l, "not an address"));

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	assert_true(gm_netlist_match_sa(&l, (struct sockaddr *)&s4));
	inet_pton(AF_INET, "203.0.113.5", &s4.sin_addr);
	assert_false(gm_netlist_match_sa(&l, (struct sockaddr *)&s4));
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::5", &s6.sin6_addr);
	assert_true(gm_netlist_match_sa(&l, (struct sockaddr *)&s6));
	assert_false(gm_netlist_match_sa(&l, NULL));
	gm_netlist_free(&l);

	/* host bits set, bad prefixes, junk */
	assert_int_equal(gm_netlist_parse("10.1.2.3/8", &l, d, sizeof(d)),
	                 GH_EINVAL);
	assert_non_null(strstr(d, "10.1.2.3/8"));
	assert_int_equal(gm_netlist_parse("10.0.0.0/33", &l, d, sizeof(d)),
	                 GH_EINVAL);
	assert_int_equal(gm_netlist_parse("::/129", &l, d, sizeof(d)),
	                 GH_EINVAL);
	assert_int_equal(gm_netlist_parse("10.0.0.0/", &l, d, sizeof(d)),
	                 GH_EINVAL);
	assert_int_equal(gm_netlist_parse("localhost", &l, d, sizeof(d)),
	                 GH_EINVAL);
	assert_int_equal(gm_netlist_parse("", &l, d, sizeof(d)), GH_OK);
	assert_int_equal(l.n, 0);
	assert_false(gm_netlist_match_str(&l, "127.0.0.1"));
	gm_netlist_free(&l);
	assert_int_equal(gm_netlist_parse("0.0.0.0/0", &l, d, sizeof(d)),
	                 GH_OK);
	assert_true(gm_netlist_match_str(&l, "198.51.100.1"));
	assert_false(gm_netlist_match_str(&l, "2001:db8::1"));
	gm_netlist_free(&l);
}

/* ---- addresses ---- */

static void
from_is(const char *value, const char *want)
{
	char out[GH_MADDR_MAX + 1];
	gh_err err = gm_from_address(value, out, sizeof(out));

	if (want == NULL) {
		assert_int_not_equal(err, GH_OK);
		return;
	}
	assert_int_equal(err, GH_OK);
	assert_string_equal(out, want);
}

static void
test_from_address(void **state)
{
	(void)state;
	from_is(" Joe <joe@example.org>", "joe@example.org");
	from_is(" joe@example.org", "joe@example.org");
	from_is(" joe@example.org (Joe Sender)", "joe@example.org");
	from_is(" \"Sender, Joe\" <joe@Example.ORG>", "joe@Example.ORG");
	from_is(" \"a <fake@evil.test>\" <real@example.org>",
	        "real@example.org");
	from_is(" (comment <x@evil.test>) <real@example.org>",
	        "real@example.org");
	from_is(" Joe\n\t<joe@example.org>", "joe@example.org");
	from_is(" <@relay.test:joe@example.org>", "joe@example.org");
	from_is(" a@example.org, b@other.test", "a@example.org");
	from_is(" \"q\\\"uoted\" <joe@example.org>", "joe@example.org");
	from_is(" undisclosed-recipients:;", NULL);
	from_is(" Joe <>", NULL);
	from_is(" no address here", NULL);
	from_is(" <joe@>", NULL);
	from_is(" <@example.org>", NULL);
	from_is("", NULL);
}

static void
test_addr_helpers(void **state)
{
	char out[128], mid[24], small[8];

	(void)state;
	assert_string_equal(gm_addr_domain("a@b.example"), "b.example");
	assert_string_equal(gm_addr_domain("a@x@b.example"), "b.example");
	assert_null(gm_addr_domain("nodomain"));
	assert_null(gm_addr_domain("trailing@"));
	assert_int_equal(gm_domain_lower("Mail.Example.ORG.", out, sizeof(out)),
	                 GH_OK);
	assert_string_equal(out, "mail.example.org");
	assert_int_equal(gm_domain_lower("bad domain", out, sizeof(out)),
	                 GH_EINVAL);
	assert_int_equal(gm_domain_lower("", out, sizeof(out)), GH_EINVAL);
	assert_int_equal(gm_domain_lower("toolong.example", small,
	                                 sizeof(small)), GH_ETOOBIG);

	gm_envelope_addr("<joe@example.org>", out, sizeof(out));
	assert_string_equal(out, "joe@example.org");
	gm_envelope_addr("<>", out, sizeof(out));
	assert_string_equal(out, "");
	gm_envelope_addr("joe@example.org SIZE=100", out, sizeof(out));
	assert_string_equal(out, "joe@example.org");
	/* too long: cut between characters, and marked */
	gm_envelope_addr("<averyveryverylongaddress@example.org>", mid,
	                 sizeof(mid));
	assert_string_equal(mid, "averyveryverylongad\\...");
	gm_envelope_addr("<a\\b@example.org>", out, sizeof(out));
	assert_string_equal(out, "a\\b@example.org");       /* an identity */
	gm_envelope_addr("<j\x01" "oe\xff@example.org>", out, sizeof(out));
	assert_string_equal(out, "j\\x01oe\\xff@example.org");
	gm_envelope_addr("<x>", small, sizeof(small));
	assert_string_equal(small, "");                 /* no room to escape */

	gm_log_value(" a\r\n\tfolded   value\t ", out, sizeof(out));
	assert_string_equal(out, "a folded value");
	/* control characters and invalid UTF-8 as the shared escape has them
	 * (gatehouse/text.h), '\' doubled */
	gm_log_value(" ctl\001char", out, sizeof(out));
	assert_string_equal(out, "ctl\\x01char");
	gm_log_value(" caf\xc3\xa9 \xff\xfe ok \\", out, sizeof(out));
	assert_string_equal(out, "caf\xc3\xa9 \\xff\\xfe ok \\\\");
	gm_log_value("over\xc0\x80long \xed\xa0\x80surrogate ok\xf0\x9f\x98\x80",
	             out, sizeof(out));
	assert_string_equal(out, "over\\xc0\\x80long \\xed\\xa0\\x80surrogate "
	                    "ok\xf0\x9f\x98\x80");
	/* a character cut by the bound is not split: cut before it, marked */
	gm_log_value(" \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	             "\xe2\x82\xac", mid, 16);
	assert_string_equal(mid, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\\...");
	/* in place */
	strcpy(mid, "  in\tplace\x01 ");
	gm_log_value(mid, mid, sizeof(mid));
	assert_string_equal(mid, "in place\\x01");
}

/* ---- configuration helpers ---- */

static char tmpdir[] = "/tmp/gh-test-milter-XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static const char ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static void
mkpath(const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", tmpdir, rel);
}

/* Load a configuration made of text, with @ replaced by the temp dir. */
static gh_err
load(const char *text, struct gm_mcfg **out, char *detail, size_t dl)
{
	char conf[8192], path[512];
	size_t o = 0;

	for (const char *p = text; *p && o + 64 < sizeof(conf); p++) {
		if (*p == '@') {
			o += (size_t)snprintf(conf + o, sizeof(conf) - o, "%s",
			                      tmpdir);
		} else {
			conf[o++] = *p;
		}
	}
	conf[o] = '\0';
	mkpath("gh.conf", path, sizeof(path));
	write_file(path, conf, 0644);
	return gm_mcfg_load(path, NULL, 1, out, detail, dl);
}

static int
setup_dir(void **state)
{
	char p[512];

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	mkpath("dkim", p, sizeof(p));
	mkdir(p, 0755);
	mkpath("dkim/example.org", p, sizeof(p));
	mkdir(p, 0755);
	mkpath("dkim/example.org/new.key", p, sizeof(p));
	write_file(p, ed_pem, 0600);
	mkpath("dkim/example.org/old.key", p, sizeof(p));
	write_file(p, ed_pem, 0600);
	mkpath("dkim/example.org/old.retire", p, sizeof(p));
	write_file(p, "2000000000\n", 0644);
	mkpath("dkim/example.org/gone.key", p, sizeof(p));
	write_file(p, ed_pem, 0600);
	mkpath("dkim/example.org/gone.retire", p, sizeof(p));
	write_file(p, "1000\n", 0644);
	/* retired long ago and no longer a key: never read, no error */
	mkpath("dkim/example.org/junk.key", p, sizeof(p));
	write_file(p, "not a key any more\n", 0600);
	mkpath("dkim/example.org/junk.retire", p, sizeof(p));
	write_file(p, "1000\n", 0644);
	mkpath("dkim/example.org/notes.txt", p, sizeof(p));
	write_file(p, "ignored\n", 0644);
	mkpath("dkim/shop.example.org", p, sizeof(p));
	mkdir(p, 0755);
	mkpath("dkim/shop.example.org/s1.key", p, sizeof(p));
	write_file(p, ed_pem, 0600);
	mkpath("elsewhere.pem", p, sizeof(p));
	write_file(p, ed_pem, 0600);
	mkpath("token.key", p, sizeof(p));
	write_file(p, "00112233445566778899aabbccddeeff"
	           "00112233445566778899aabbccddeeff\n", 0600);
	return 0;
}

static int
teardown_dir(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char base_conf[] =
    "[store]\npath = @/store\n"
    "[dkim]\nkey_dir = @/dkim\n"
    "[dkim.partner]\ndomain = partner.test\nselector = p1\n"
    "key_file = @/elsewhere.pem\nsigning_domain = esp.test\n";

static void
test_signtable(void **state)
{
	struct gm_mcfg *c;
	const struct gm_signkey *k[8];
	char d[1024];
	size_t n;

	(void)state;
	assert_int_equal(load(base_conf, &c, d, sizeof(d)), GH_OK);
	assert_int_equal(c->keys->n, 6);
	/* keys retired when the table was loaded are listed, never read */
	for (size_t i = 0; i < c->keys->n; i++) {
		const struct gm_signkey *e = &c->keys->v[i];
		int gone = strcmp(e->selector, "gone") == 0 ||
		           strcmp(e->selector, "junk") == 0;

		assert_true(gone ? e->key == NULL : e->key != NULL);
	}
	/* now: between gone's retirement (1000) and old's (2000000000) */
	n = gm_signtable_find(c->keys, "Example.ORG", 1, 1700000000, k, 8);
	assert_int_equal(n, 2);
	assert_true((strcmp(k[0]->selector, "new") == 0 &&
	             strcmp(k[1]->selector, "old") == 0) ||
	            (strcmp(k[0]->selector, "old") == 0 &&
	             strcmp(k[1]->selector, "new") == 0));
	/* after old's retire time only new signs */
	n = gm_signtable_find(c->keys, "example.org", 1, 2000000001, k, 8);
	assert_int_equal(n, 1);
	assert_string_equal(k[0]->selector, "new");
	/* a subdomain with keys of its own uses them, not the parent's */
	n = gm_signtable_find(c->keys, "shop.example.org", 1, 1700000000, k, 8);
	assert_int_equal(n, 1);
	assert_string_equal(k[0]->selector, "s1");
	assert_string_equal(k[0]->sdid, "shop.example.org");
	/* a subdomain without keys falls back to the parent... */
	n = gm_signtable_find(c->keys, "news.example.org", 1, 1700000000, k, 8);
	assert_int_equal(n, 2);
	assert_string_equal(k[0]->sdid, "example.org");
	/* ...unless subdomains are off */
	assert_int_equal(gm_signtable_find(c->keys, "news.example.org", 0,
	                                   1700000000, k, 8), 0);
	/* never to a top-level domain's keys, nor to unrelated ones */
	assert_int_equal(gm_signtable_find(c->keys, "org", 1, 1700000000, k,
	                                   8), 0);
	assert_int_equal(gm_signtable_find(c->keys, "example.net", 1,
	                                   1700000000, k, 8), 0);
	/* a [dkim.NAME] entry with its own d= */
	n = gm_signtable_find(c->keys, "partner.test", 1, 1700000000, k, 8);
	assert_int_equal(n, 1);
	assert_string_equal(k[0]->sdid, "esp.test");
	assert_string_equal(k[0]->selector, "p1");
	/* max bounds the answer */
	assert_int_equal(gm_signtable_find(c->keys, "example.org", 1,
	                                   1700000000, k, 1), 1);
	gm_mcfg_unref(c);
}

static void
test_signtable_errors(void **state)
{
	struct gm_mcfg *c;
	char d[1024], p[512];

	(void)state;
	/* a missing key_dir is just empty */
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing-here\n", &c, d,
	                      sizeof(d)), GH_OK);
	assert_int_equal(c->keys->n, 0);
	gm_mcfg_unref(c);
	/* an entry without key_file */
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing\n[dkim.x]\n"
	                      "domain = a.test\nselector = s\n", &c, d,
	                      sizeof(d)), GH_ECONFIG);
	assert_non_null(strstr(d, "[dkim.x]"));
	/* a broken key file fails the whole load and is named */
	mkpath("dkim/example.org/broken.key", p, sizeof(p));
	write_file(p, "not a key\n", 0600);
	assert_int_not_equal(load(base_conf, &c, d, sizeof(d)), GH_OK);
	assert_non_null(strstr(d, "broken.key"));
	unlink(p);
	/* a bad selector in a section */
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing\n[dkim.x]\n"
	                      "domain = a.test\nselector = bad;sel\n"
	                      "key_file = @/elsewhere.pem\n", &c, d, sizeof(d)),
	                 GH_ECONFIG);
}

static void
test_mcfg(void **state)
{
	struct gm_mcfg *c;
	char d[1024];

	(void)state;
	assert_int_equal(load("[milter]\ninternal_hosts = 10.0.0.0/8\n"
	                      "on_store_error = accept\n"
	                      "[dkim]\nkey_dir = @/dkim\n"
	                      "canonicalization = simple/relaxed\n"
	                      "headers = From Subject, To\noversign = From\n"
	                      "expire = 7d\n"
	                      "[ratelimit]\nwindow = 10m\naction = reject\n"
	                      "sender_messages = 5\n", &c, d, sizeof(d)),
	                 GH_OK);
	assert_int_equal(c->hdr_canon, GH_CANON_SIMPLE);
	assert_int_equal(c->body_canon, GH_CANON_RELAXED);
	assert_int_equal(c->nheaders, 3);
	assert_string_equal(c->headers[2], "To");
	assert_int_equal(c->noversign, 1);
	assert_int_equal(c->expire_s, 7 * 86400);
	assert_int_equal(c->on_store_error, GH_ONERR_ACCEPT);
	assert_int_equal(c->on_scan_error, GH_ONERR_TEMPFAIL);
	assert_int_equal(c->limits.window_ms, 600000);
	assert_true(c->limits.reject);
	assert_int_equal(c->limits.sender_msgs, 5);
	assert_true(gm_mcfg_has_limits(c));
	assert_null(c->scanner);
	assert_null(c->unsubscribe_url);
	/* references */
	gm_mcfg_ref(c);
	gm_mcfg_unref(c);
	gm_mcfg_unref(c);

	assert_int_equal(load("[milter]\ninternal_hosts = 10.0.0.1/8\n", &c, d,
	                      sizeof(d)), GH_ECONFIG);
	assert_non_null(strstr(d, "internal_hosts"));
	assert_int_equal(load("[dkim]\nkey_dir = @/dkim\nheaders = From "
	                      "Bad:Name\n", &c, d, sizeof(d)), GH_ECONFIG);
	/* unsubscribe_url needs the token key */
	assert_int_equal(load("[milter]\nunsubscribe_url = https://x.test/u\n"
	                      "[tokens]\nkey_file = @/missing.key\n", &c, d,
	                      sizeof(d)), GH_ECONFIG);
	assert_non_null(strstr(d, "token key"));
	/* a scanner without a database directory fails loudly */
	assert_int_not_equal(load("[milter]\nscan = yes\nclamav_db = @/nodb\n",
	                          &c, d, sizeof(d)), GH_OK);
	assert_non_null(strstr(d, "nodb"));
}

static void
test_holder_swap(void **state)
{
	struct gm_mcfg_holder h;
	struct gm_mcfg *a, *b, *pinned;
	char d[1024];

	(void)state;
	assert_int_equal(load(base_conf, &a, d, sizeof(d)), GH_OK);
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing\n", &b, d,
	                      sizeof(d)), GH_OK);
	gm_mcfg_holder_init(&h, a);
	pinned = gm_mcfg_acquire(&h);	/* a connection */
	gm_mcfg_swap(&h, b);		/* a reload */
	/* the connection still has its configuration, keys and all */
	assert_ptr_equal(pinned, a);
	assert_int_equal(pinned->keys->n, 6);
	gm_mcfg_unref(pinned);		/* last user: a is freed (ASan) */
	pinned = gm_mcfg_acquire(&h);
	assert_ptr_equal(pinned, b);
	gm_mcfg_unref(pinned);
	gm_mcfg_holder_destroy(&h);
}

/* ---- policy with a fake macro lookup ---- */

struct macros {
	const char *auth;
};

static const char *
fake_macro(void *ctx, const char *name)
{
	struct macros *m = ctx;

	if (strcmp(name, "{auth_authen}") == 0)
		return m->auth;
	return NULL;
}

static void
test_outgoing(void **state)
{
	struct gm_mcfg *c;
	struct macros mac = {NULL};
	char user[64], d[1024];
	const char *why;

	(void)state;
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	gm_policy_auth_user(fake_macro, &mac, user, sizeof(user));
	assert_string_equal(user, "");
	assert_false(gm_policy_outgoing(c, 0, user, &why));
	assert_string_equal(why, "inbound");
	assert_true(gm_policy_outgoing(c, 1, user, &why));
	assert_string_equal(why, "internal host");
	mac.auth = "alice@example.org";
	gm_policy_auth_user(fake_macro, &mac, user, sizeof(user));
	assert_string_equal(user, "alice@example.org");
	assert_true(gm_policy_outgoing(c, 0, user, &why));
	assert_string_equal(why, "authenticated");
	mac.auth = "";
	gm_policy_auth_user(fake_macro, &mac, user, sizeof(user));
	assert_false(gm_policy_outgoing(c, 0, user, &why));
	gm_policy_auth_user(NULL, NULL, user, sizeof(user));
	assert_string_equal(user, "");
	gm_mcfg_unref(c);

	assert_int_equal(load("[milter]\nsign_authenticated = no\n"
	                      "[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	assert_false(gm_policy_outgoing(c, 0, "alice", &why));
	assert_true(gm_policy_outgoing(c, 1, "alice", &why));
	gm_mcfg_unref(c);
}

static void
bulk_of(const struct gm_mcfg *c, struct gm_bulk *b, const char *const *f)
{
	gm_bulk_init(b);
	for (; f[0]; f += 2)
		gm_bulk_header(c, b, f[0], f[1]);
}

static void
test_bulk(void **state)
{
	struct gm_mcfg *c;
	struct gm_bulk b;
	char d[1024];

	(void)state;
	assert_int_equal(load("[milter]\nbulk_header = X-Campaign\n"
	                      "transactional_header = X-Transactional\n"
	                      "[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	bulk_of(c, &b, (const char *const[]){"Subject", " hi", NULL});
	assert_false(gm_bulk_is_bulk(&b));
	assert_null(gm_bulk_why(&b));
	bulk_of(c, &b, (const char *const[]){"Precedence", " Bulk", NULL});
	assert_true(gm_bulk_is_bulk(&b));
	assert_string_equal(gm_bulk_why(&b), "Precedence");
	bulk_of(c, &b, (const char *const[]){"precedence", " list;x", NULL});
	assert_true(gm_bulk_is_bulk(&b));
	bulk_of(c, &b, (const char *const[]){"Precedence", " first-class",
	                                     NULL});
	assert_false(gm_bulk_is_bulk(&b));
	bulk_of(c, &b, (const char *const[]){"List-Id", " News of the\n\tWeek "
	                                     "<News.Example.ORG>", NULL});
	assert_true(gm_bulk_is_bulk(&b));
	assert_string_equal(b.list, "news.example.org");
	assert_string_equal(gm_bulk_why(&b), "List-Id");
	bulk_of(c, &b, (const char *const[]){"List-Id", " bare.list.test",
	                                     NULL});
	assert_string_equal(b.list, "bare.list.test");
	bulk_of(c, &b, (const char *const[]){"x-campaign", " 42", NULL});
	assert_true(gm_bulk_is_bulk(&b));
	assert_string_equal(gm_bulk_why(&b), "bulk header");
	/* transactional wins over every bulk marker */
	bulk_of(c, &b, (const char *const[]){"Precedence", " bulk",
	                                     "List-Id", " <l.test>",
	                                     "X-Transactional", " yes", NULL});
	assert_false(gm_bulk_is_bulk(&b));
	bulk_of(c, &b, (const char *const[]){"Precedence", " bulk",
	                                     "X-Transactional", " no", NULL});
	assert_true(gm_bulk_is_bulk(&b));
	bulk_of(c, &b, (const char *const[]){"List-Unsubscribe",
	                                     " <https://x/>", NULL});
	assert_true(b.list_unsubscribe);
	gm_mcfg_unref(c);
}

static void
test_msg_fields(void **state)
{
	struct gm_mcfg *c;
	struct gm_msg *m;
	char d[1024];

	(void)state;
	assert_int_equal(load("[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	m = gm_msg_new(1);
	assert_non_null(m);
	gm_msg_header(c, m, "From", " Joe <Joe@Example.org>");
	gm_msg_header(c, m, "Subject", " hello\n\tworld");
	gm_msg_header(c, m, "Subject", " second");
	gm_msg_header(c, m, "Message-Id", " <1@x>");
	assert_string_equal(m->from_addr, "Joe@Example.org");
	assert_string_equal(m->subject, "hello world");
	assert_string_equal(m->message_id, "<1@x>");
	assert_int_equal(m->nfrom, 1);
	assert_int_equal(m->nhdr, 4);
	gm_msg_header(c, m, "FROM", " other@x.test");
	assert_int_equal(m->nfrom, 2);
	assert_string_equal(m->from_addr, "Joe@Example.org");
	/* the first GH_MSG_MAX_RCPTS are kept whatever "listed" says */
	for (int i = 0; i < GH_MSG_MAX_RCPTS; i++) {
		assert_false(gm_msg_rcpts_full(m));
		assert_int_equal(gm_msg_add_rcpt(m, "<r@x.test>", i % 2), GH_OK);
	}
	assert_true(gm_msg_rcpts_full(m));
	/* past them, unlisted ones are only counted, listed ones kept */
	for (int i = 0; i < 5; i++)
		assert_int_equal(gm_msg_add_rcpt(m, "<r@x.test>", 0), GH_OK);
	assert_int_equal(m->nrcpt, GH_MSG_MAX_RCPTS);
	assert_int_equal(m->rcpt_total, GH_MSG_MAX_RCPTS + 5);
	m->rcpts[0].suppressed = 1;
	assert_int_equal(gm_msg_remaining(m), GH_MSG_MAX_RCPTS + 4);
	for (int i = 0; i < GH_MSG_MAX_LISTED; i++)
		assert_int_equal(gm_msg_add_rcpt(m, "<l@x.test>", 1), GH_OK);
	assert_int_equal(m->nrcpt, GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED);
	assert_string_equal(m->rcpts[GH_MSG_MAX_RCPTS].addr, "l@x.test");
	/* a listed one past both bounds is refused, and not counted */
	assert_int_equal(gm_msg_add_rcpt(m, "<l@x.test>", 1), GH_ETOOBIG);
	assert_int_equal(m->rcpt_refused, 1);
	assert_int_equal(gm_msg_add_rcpt(m, "<u@x.test>", 0), GH_OK);
	assert_int_equal(m->nrcpt, GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED);
	assert_int_equal(m->rcpt_total,
	                 GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED + 6);
	m->rcpts[GH_MSG_MAX_RCPTS].suppressed = 1;
	assert_int_equal(gm_msg_remaining(m),
	                 GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED + 4);
	gm_msg_free(m);
	gm_mcfg_unref(c);
}

static void
test_unsubscribe_value(void **state)
{
	struct gm_mcfg *c;
	struct gh_token_key key;
	struct gh_token t;
	char d[1024], v[GH_UNSUB_VALUE_MAX], p[512];
	const char *tok;

	(void)state;
	assert_int_equal(load("[milter]\nunsubscribe_url = "
	                      "https://example.org/unsubscribe\n"
	                      "[tokens]\nkey_file = @/token.key\n"
	                      "unsubscribe_ttl = 30d\n"
	                      "[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	assert_int_equal(gm_unsub_value(c, "Bob@Example.NET", "news.example.org",
	                                1700000000, v, sizeof(v)), GH_OK);
	assert_memory_equal(v, " <https://example.org/unsubscribe?t=", 36);
	assert_int_equal(v[strlen(v) - 1], '>');
	tok = v + 36;
	mkpath("token.key", p, sizeof(p));
	assert_int_equal(gh_token_key_load(p, &key, d, sizeof(d)), GH_OK);
	assert_int_equal(gh_token_check(&key, 1, GH_TOKEN_UNSUBSCRIBE, tok,
	                                strlen(tok) - 1, 1700000001, &t),
	                 GH_OK);
	assert_int_equal(t.nfields, 2);
	assert_string_equal(t.field[0], "bob@example.net");
	assert_string_equal(t.field[1], "news.example.org");
	assert_int_equal(t.expires, 1700000000 + 30 * 86400);
	/* a download-purpose check must refuse it */
	assert_int_not_equal(gh_token_check(&key, 1, GH_TOKEN_DOWNLOAD, tok,
	                                    strlen(tok) - 1, 1700000001, &t),
	                     GH_OK);
	assert_int_equal(gm_unsub_value(c, "not an address", "", 1, v,
	                                sizeof(v)), GH_EINVAL);
	assert_int_equal(gm_unsub_value(c, "a@b.test", "", 1, v, 20),
	                 GH_ETOOBIG);
	gm_mcfg_unref(c);
	/* a base URL with a query gets &t= */
	assert_int_equal(load("[milter]\nunsubscribe_url = "
	                      "https://x.test/u?src=mail\n"
	                      "[tokens]\nkey_file = @/token.key\n"
	                      "[dkim]\nkey_dir = @/nothing\n", &c, d,
	                      sizeof(d)), GH_OK);
	assert_int_equal(gm_unsub_value(c, "a@b.test", "", 1, v, sizeof(v)),
	                 GH_OK);
	assert_non_null(strstr(v, "?src=mail&t="));
	gm_mcfg_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netlist),
		cmocka_unit_test(test_from_address),
		cmocka_unit_test(test_addr_helpers),
		cmocka_unit_test(test_signtable),
		cmocka_unit_test(test_signtable_errors),
		cmocka_unit_test(test_mcfg),
		cmocka_unit_test(test_holder_swap),
		cmocka_unit_test(test_outgoing),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_msg_fields),
		cmocka_unit_test(test_unsubscribe_value),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
