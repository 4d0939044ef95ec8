/*
 * test_token.c - unsubscribe and download tokens: round trip, tampering,
 * wrong purpose, expiry, key rotation, malformed input, key files (master
 * and per purpose); and the base64/hex codecs they rest on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/crypto.h>

#include "gatehouse/codec.h"
#include "gatehouse/token.h"

#define NOW 1800000000LL

static void
key_of(struct gh_token_key *k, unsigned char seed)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < 32; i++)
		k->k[i] = (unsigned char)(seed + i);
	k->len = 32;
}

static void
unsub(struct gh_token *t, const char *rcpt, const char *list, int64_t exp)
{
	memset(t, 0, sizeof(*t));
	t->purpose = GH_TOKEN_UNSUBSCRIBE;
	t->expires = exp;
	t->nfields = 2;
	snprintf(t->field[0], sizeof(t->field[0]), "%s", rcpt);
	snprintf(t->field[1], sizeof(t->field[1]), "%s", list);
}

static void
test_round_trip(void **state)
{
	struct gh_token_key k;
	struct gh_token t, out;
	char tok[GH_TOKEN_LEN_MAX];

	(void)state;
	key_of(&k, 1);
	unsub(&t, "alice@example.org", "news", NOW + 3600);
	assert_int_equal(gh_token_make(&k, &t, tok, sizeof(tok)), GH_OK);
	/* URL-safe as it stands */
	assert_null(strpbrk(tok, "+/=%&?"));
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE, tok,
	                                strlen(tok), NOW, &out), GH_OK);
	assert_int_equal(out.nfields, 2);
	assert_string_equal(out.field[0], "alice@example.org");
	assert_string_equal(out.field[1], "news");
	assert_int_equal(out.expires, NOW + 3600);
	/* the same token is not a download link */
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_DOWNLOAD, tok,
	                                strlen(tok), NOW, &out), GH_EACCES);
	/* expired: genuine, filled, but refused */
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE, tok,
	                                strlen(tok), NOW + 3601, &out),
	                 GH_EEXPIRED);
	assert_string_equal(out.field[0], "alice@example.org");
}

static void
test_tamper_and_keys(void **state)
{
	struct gh_token_key k, k2, both[2];
	struct gh_token t, out;
	char tok[GH_TOKEN_LEN_MAX], bad[GH_TOKEN_LEN_MAX];
	size_t n;

	(void)state;
	key_of(&k, 1);
	key_of(&k2, 99);
	unsub(&t, "bob@example.org", "promo", NOW + 10);
	assert_int_equal(gh_token_make(&k, &t, tok, sizeof(tok)), GH_OK);
	n = strlen(tok);
	/* every single-character change is caught */
	for (size_t i = 0; i < n; i++) {
		strcpy(bad, tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE,
		                     bad, n, NOW, &out), GH_OK);
	}
	/* truncation */
	assert_int_not_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE, tok,
	                     n - 1, NOW, &out), GH_OK);
	/* another key does not verify; a rotation list with the old one does */
	assert_int_equal(gh_token_check(&k2, 1, GH_TOKEN_UNSUBSCRIBE, tok, n,
	                                NOW, &out), GH_EACCES);
	both[0] = k2;
	both[1] = k;
	assert_int_equal(gh_token_check(both, 2, GH_TOKEN_UNSUBSCRIBE, tok, n,
	                                NOW, &out), GH_OK);
	/* garbage */
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE, "!!", 2,
	                                NOW, &out), GH_EINVAL);
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_UNSUBSCRIBE, "", 0,
	                                NOW, &out), GH_EINVAL);
}

static void
test_limits(void **state)
{
	struct gh_token_key k, shortk;
	struct gh_token t, out;
	char tok[GH_TOKEN_LEN_MAX];

	(void)state;
	key_of(&k, 7);
	memset(&t, 0, sizeof(t));
	t.purpose = GH_TOKEN_DOWNLOAD;
	t.expires = NOW;
	t.nfields = GH_TOKEN_FIELDS_MAX;
	for (int i = 0; i < GH_TOKEN_FIELDS_MAX; i++)
		memset(t.field[i], 'a' + i, GH_TOKEN_FIELD_MAX);
	assert_int_equal(gh_token_make(&k, &t, tok, sizeof(tok)), GH_OK);
	assert_true(strlen(tok) < GH_TOKEN_LEN_MAX);
	assert_int_equal(gh_token_check(&k, 1, GH_TOKEN_DOWNLOAD, tok,
	                                strlen(tok), NOW, &out), GH_OK);
	assert_int_equal(strlen(out.field[3]), GH_TOKEN_FIELD_MAX);
	t.nfields = GH_TOKEN_FIELDS_MAX + 1;
	assert_int_equal(gh_token_make(&k, &t, tok, sizeof(tok)), GH_EINVAL);
	t.nfields = 1;
	t.purpose = 9;
	assert_int_equal(gh_token_make(&k, &t, tok, sizeof(tok)), GH_EINVAL);
	t.purpose = GH_TOKEN_DOWNLOAD;
	assert_int_equal(gh_token_make(&k, &t, tok, 8), GH_ETOOBIG);
	shortk = k;
	shortk.len = 16;
	assert_int_equal(gh_token_make(&shortk, &t, tok, sizeof(tok)), GH_EINVAL);
}

static void
test_key_file(void **state)
{
	char path[] = "/tmp/gh-key-XXXXXX";
	struct gh_token_key k;
	char detail[256];
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n", fp);
	fclose(fp);
	assert_int_equal(gh_token_key_load(path, &k, detail, sizeof(detail)),
	                 GH_OK);
	assert_int_equal(k.len, 32);
	assert_int_equal(k.k[31], 0xff);
	fp = fopen(path, "w");
	fputs("tooshort\n", fp);
	fclose(fp);
	assert_int_equal(gh_token_key_load(path, &k, detail, sizeof(detail)),
	                 GH_EINVAL);
	assert_non_null(strstr(detail, "gatehouse tokens keygen"));
	unlink(path);
	assert_int_equal(gh_token_key_load(path, &k, detail, sizeof(detail)),
	                 GH_ENOTFOUND);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void
make_unsub(const struct gh_token_key *k, const char *rcpt, char *tok)
{
	struct gh_token t;

	unsub(&t, rcpt, "news", NOW + 60);
	assert_int_equal(gh_token_make(k, &t, tok, GH_TOKEN_LEN_MAX), GH_OK);
}

static void
make_download(const struct gh_token_key *k, char *tok)
{
	struct gh_token t;

	memset(&t, 0, sizeof(t));
	t.purpose = GH_TOKEN_DOWNLOAD;
	t.expires = NOW + 60;
	t.nfields = 1;
	strcpy(t.field[0], "42");
	assert_int_equal(gh_token_make(k, &t, tok, GH_TOKEN_LEN_MAX), GH_OK);
}

static gh_err
check(const struct gh_token_key *keys, size_t n, enum gh_token_purpose p,
      const char *tok)
{
	struct gh_token out;

	return gh_token_check(keys, n, p, tok, strlen(tok), NOW, &out);
}

/* Derived keys in a file: tokens made with the master verify with the
 * file and the other way round, purpose by purpose. */
static void
test_purpose_file(void **state)
{
	char path[] = "/tmp/gh-pkey-XXXXXX";
	const unsigned both = GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE) |
	                      GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD);
	struct gh_token_key byhand, master, web, none;
	char text[1024], detail[512], tok[GH_TOKEN_LEN_MAX];
	char tok2[GH_TOKEN_LEN_MAX];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	key_of(&byhand, 3);
	write_file(path, "030405060708090a0b0c0d0e0f101112"
	                 "131415161718191a1b1c1d1e1f202122\n");
	assert_int_equal(gh_token_key_load(path, &master, detail,
	                                   sizeof(detail)), GH_OK);
	assert_int_equal(master.len, 32);
	assert_int_equal(master.purposes, both);
	assert_memory_equal(master.k, byhand.k, 32);
	/* a master file has no .previous keys of its own */
	assert_int_equal(gh_token_key_load_previous(path, &none, detail,
	                                            sizeof(detail)),
	                 GH_ENOTFOUND);

	assert_int_equal(gh_token_key_format(&master, NULL, both,
	                                     "derived\nfor the web", text,
	                                     sizeof(text)), GH_OK);
	assert_true(strncmp(text, "# derived\n# for the web\nunsubscribe ",
	                    36) == 0);
	assert_non_null(strstr(text, "\ndownload "));
	assert_null(strstr(text, ".previous"));
	/* the same bytes from a master built by hand (derived on use) */
	assert_int_equal(gh_token_key_format(&byhand, NULL, both,
	                                     "derived\nfor the web", tok,
	                                     sizeof(tok)), GH_OK);
	assert_string_equal(text, tok);
	write_file(path, text);
	assert_int_equal(gh_token_key_load(path, &web, detail, sizeof(detail)),
	                 GH_OK);
	assert_int_equal(web.len, 0);
	assert_int_equal(web.purposes, both);
	assert_int_equal(gh_token_key_load_previous(path, &none, detail,
	                                            sizeof(detail)),
	                 GH_ENOTFOUND);

	/* master -> file, file -> master, both purposes */
	make_unsub(&master, "a@example.org", tok);
	assert_int_equal(check(&web, 1, GH_TOKEN_UNSUBSCRIBE, tok), GH_OK);
	make_unsub(&web, "a@example.org", tok2);
	assert_string_equal(tok, tok2);
	assert_int_equal(check(&byhand, 1, GH_TOKEN_UNSUBSCRIBE, tok2), GH_OK);
	make_download(&byhand, tok);
	assert_int_equal(check(&web, 1, GH_TOKEN_DOWNLOAD, tok), GH_OK);
	make_download(&web, tok);
	assert_int_equal(check(&master, 1, GH_TOKEN_DOWNLOAD, tok), GH_OK);
	/* still one purpose is not the other */
	assert_int_equal(check(&web, 1, GH_TOKEN_UNSUBSCRIBE, tok), GH_EACCES);
	OPENSSL_cleanse(text, sizeof(text));
	unlink(path);
}

/* A key without a purpose neither makes nor checks its tokens. */
static void
test_wrong_purpose(void **state)
{
	char path[] = "/tmp/gh-pkey-XXXXXX";
	struct gh_token_key master, old, mail, both[2];
	struct gh_token t;
	char text[1024], detail[512], tok[GH_TOKEN_LEN_MAX];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	key_of(&master, 5);
	key_of(&old, 77);
	assert_int_equal(gh_token_key_format(&master, NULL,
	                                     GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE),
	                                     NULL, text, sizeof(text)), GH_OK);
	assert_true(strncmp(text, "unsubscribe ", 12) == 0);
	assert_null(strstr(text, "download"));
	write_file(path, text);
	assert_int_equal(gh_token_key_load(path, &mail, detail, sizeof(detail)),
	                 GH_OK);
	assert_true(gh_token_key_has(&mail, GH_TOKEN_UNSUBSCRIBE));
	assert_false(gh_token_key_has(&mail, GH_TOKEN_DOWNLOAD));
	assert_true(gh_token_key_has(&master, GH_TOKEN_DOWNLOAD));
	/* cannot make a download link, nor check one, nor write the key */
	memset(&t, 0, sizeof(t));
	t.purpose = GH_TOKEN_DOWNLOAD;
	t.expires = NOW + 60;
	assert_int_equal(gh_token_make(&mail, &t, tok, sizeof(tok)), GH_EACCES);
	make_download(&master, tok);
	assert_int_equal(check(&mail, 1, GH_TOKEN_DOWNLOAD, tok), GH_EACCES);
	assert_int_equal(gh_token_key_format(&mail, NULL,
	                                     GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD),
	                                     NULL, text, sizeof(text)),
	                 GH_EACCES);
	/* a key without the purpose is skipped, the next one may verify */
	both[0] = mail;
	both[1] = master;
	assert_int_equal(check(both, 2, GH_TOKEN_DOWNLOAD, tok), GH_OK);
	/* an empty key is no key */
	memset(&both[0], 0, sizeof(both[0]));
	assert_int_equal(gh_token_make(&both[0], &t, tok, sizeof(tok)),
	                 GH_EINVAL);
	assert_false(gh_token_key_has(&both[0], GH_TOKEN_UNSUBSCRIBE));
	/* format: a mask of nothing or of no purpose; too small a buffer */
	assert_int_equal(gh_token_key_format(&master, NULL, 0, NULL, text,
	                                     sizeof(text)), GH_EINVAL);
	assert_int_equal(gh_token_key_format(&master, NULL, GH_TOKEN_BIT(9),
	                                     NULL, text, sizeof(text)),
	                 GH_EINVAL);
	assert_int_equal(gh_token_key_format(&master, NULL,
	                                     GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD),
	                                     NULL, text, 20), GH_ETOOBIG);

	/* rotation in one file: current and .previous lines */
	assert_int_equal(gh_token_key_format(&master, &old,
	                                     GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE),
	                                     NULL, text, sizeof(text)), GH_OK);
	assert_non_null(strstr(text, "\nunsubscribe.previous "));
	write_file(path, text);
	assert_int_equal(gh_token_key_load(path, &both[0], detail,
	                                   sizeof(detail)), GH_OK);
	assert_int_equal(gh_token_key_load_previous(path, &both[1], detail,
	                                            sizeof(detail)), GH_OK);
	assert_int_equal(both[1].purposes, GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE));
	make_unsub(&old, "b@example.org", tok);
	assert_int_equal(check(both, 1, GH_TOKEN_UNSUBSCRIBE, tok), GH_EACCES);
	assert_int_equal(check(both, 2, GH_TOKEN_UNSUBSCRIBE, tok), GH_OK);
	make_unsub(&master, "b@example.org", tok);
	assert_int_equal(check(both, 2, GH_TOKEN_UNSUBSCRIBE, tok), GH_OK);
	OPENSSL_cleanse(text, sizeof(text));
	unlink(path);
}

/* The keys a verifier holds, as nginx and `gatehouse config check`
 * load them: the domain's file with its .previous keys, else the masters;
 * a failure names the [tokens] key and the file. */
static void
test_verifier_keys(void **state)
{
	char web[] = "/tmp/gh-vkey-XXXXXX", master_path[] = "/tmp/gh-mkey-XXXXXX";
	struct gh_token_key master, old, keys[2];
	const char *which = NULL, *path = NULL;
	char text[1024], detail[512];
	size_t n = 9;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(web)) >= 0);
	close(fd);
	assert_true((fd = mkstemp(master_path)) >= 0);
	close(fd);
	key_of(&master, 5);
	key_of(&old, 77);
	assert_int_equal(gh_token_key_format(&master, &old,
	                                     GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD),
	                                     NULL, text, sizeof(text)), GH_OK);
	write_file(web, text);
	write_file(master_path, "030405060708090a0b0c0d0e0f101112"
	           "131415161718191a1b1c1d1e1f202122\n");
	assert_int_equal(gh_token_verifier_keys(web, "web_key_file",
	                 master_path, NULL, keys, &n, &which, &path, detail,
	                 sizeof(detail)), GH_OK);
	assert_int_equal(n, 2);
	assert_true(gh_token_key_has(&keys[0], GH_TOKEN_DOWNLOAD));
	assert_false(gh_token_key_has(&keys[0], GH_TOKEN_UNSUBSCRIBE));
	assert_string_equal(which, "web_key_file");
	/* no domain file: the master, then the previous master */
	assert_int_equal(gh_token_verifier_keys("", "web_key_file",
	                 master_path, NULL, keys, &n, &which, &path, detail,
	                 sizeof(detail)), GH_OK);
	assert_int_equal(n, 1);
	assert_true(gh_token_key_has(&keys[0], GH_TOKEN_UNSUBSCRIBE));
	assert_int_equal(gh_token_verifier_keys(NULL, "web_key_file",
	                 master_path, "/nonexistent/prev.key", keys, &n, &which,
	                 &path, detail, sizeof(detail)), GH_ENOTFOUND);
	assert_string_equal(which, "previous_key_file");
	assert_string_equal(path, "/nonexistent/prev.key");
	assert_non_null(strstr(detail, "/nonexistent/prev.key"));
	unlink(web);
	assert_int_equal(gh_token_verifier_keys(web, "web_key_file",
	                 master_path, NULL, keys, &n, &which, &path, detail,
	                 sizeof(detail)), GH_ENOTFOUND);
	assert_string_equal(which, "web_key_file");
	assert_string_equal(path, web);
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(keys, sizeof(keys));
	unlink(master_path);
}

/* Lines that are not keys: refused with the line's number, nothing
 * loaded; comments, blank lines, CRLF and spacing are fine. */
static void
test_bad_lines(void **state)
{
	char path[] = "/tmp/gh-pkey-XXXXXX";
	static const char k64[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	static const struct {
		const char *text;
		const char *says;
	} bad[] = {
		{"unsubscribe 0011\n", "line 1: unsubscribe: expected 64 hex"},
		{"# c\n\nupload $\n", "line 3: unknown key 'upload'"},
		{"unsubscribe $\nunsubscribe $\n", "line 2: unsubscribe given "
		 "twice"},
		{"download $ extra\n", "line 1: download: expected"},
		{"download\n", "line 1: download: expected"},
		{"download 00112233445566778899aabbccddeeff"
		 "00112233445566778899aabbccddeezz\n", "line 1: download: expected"},
		{"download.previous $\n", "no current key"},
		{"# only a comment\n", "no current key"},
		{"unsubscribe=$\n", "not a key"},
		{"", "not a key"},
		{"Unsubscribe $\n", "line 1: unknown key 'Unsubscribe'"},
		{"0011 $\n", "line 1: unknown key (expected"},
	};
	struct gh_token_key k;
	char text[512], detail[512], big[GH_TOKEN_FILE_MAX + 2];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 0;

		/* '$' stands for a good key */
		for (const char *c = bad[i].text; *c != '\0'; c++) {
			if (*c == '$') {
				memcpy(text + n, k64, 64);
				n += 64;
			} else {
				text[n++] = *c;
			}
		}
		text[n] = '\0';
		write_file(path, text);
		k.purposes = 99;
		assert_int_equal(gh_token_key_load(path, &k, detail,
		                                   sizeof(detail)), GH_EINVAL);
		if (strstr(detail, bad[i].says) == NULL)
			fail_msg("%s: detail '%s' lacks '%s'", bad[i].text,
			         detail, bad[i].says);
		assert_non_null(strstr(detail, "gatehouse tokens keygen"));
		/* the key is never echoed */
		assert_null(strstr(detail, "8899aabb"));
		assert_int_equal(k.purposes, 0);
		assert_int_equal(k.len, 0);
	}
	/* too long to be a key file */
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(gh_token_key_load(path, &k, detail, sizeof(detail)),
	                 GH_EINVAL);
	assert_non_null(strstr(detail, "longer than"));
	/* what is fine */
	snprintf(text, sizeof(text), "# made by hand\r\n\r\n  download\t%s  \r\n"
	         "#unsubscribe %s\r\n", k64, k64);
	write_file(path, text);
	assert_int_equal(gh_token_key_load(path, &k, detail, sizeof(detail)),
	                 GH_OK);
	assert_int_equal(k.purposes, GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD));
	assert_int_equal(k.pk[GH_TOKEN_DOWNLOAD - 1][31], 0xff);
	unlink(path);
	assert_int_equal(gh_token_key_load_previous(path, &k, detail,
	                                            sizeof(detail)),
	                 GH_ENOTFOUND);
}

static void
test_codec(void **state)
{
	char out[64];
	unsigned char bin[64];
	size_t n;

	(void)state;
	/* RFC 4648 section 10 vectors */
	assert_int_equal(gh_b64_encode(GH_B64_STD, "foobar", 6, out, sizeof(out),
	                               &n), GH_OK);
	assert_string_equal(out, "Zm9vYmFy");
	assert_int_equal(gh_b64_encode(GH_B64_STD, "fo", 2, out, sizeof(out),
	                               &n), GH_OK);
	assert_string_equal(out, "Zm8=");
	assert_int_equal(gh_b64_encode(GH_B64_URL, "\xfb\xff", 2, out,
	                               sizeof(out), &n), GH_OK);
	assert_string_equal(out, "-_8");
	assert_int_equal(gh_b64_decode(GH_B64_URL, "-_8", 3, bin, sizeof(bin),
	                               &n), GH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(bin[0], 0xfb);
	assert_int_equal(gh_b64_decode(GH_B64_STD, "Zm9v YmFy", 9, bin,
	                               sizeof(bin), &n), GH_EINVAL);
	assert_int_equal(gh_hex_encode("\x01\xab", 2, out, sizeof(out)), GH_OK);
	assert_string_equal(out, "01ab");
	assert_int_equal(gh_hex_decode("01AB", 4, bin, sizeof(bin), &n), GH_OK);
	assert_int_equal(bin[1], 0xab);
	assert_int_equal(gh_hex_decode("0g", 2, bin, sizeof(bin), &n), GH_EINVAL);
	assert_int_equal(gh_hex_decode("012", 3, bin, sizeof(bin), &n), GH_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tamper_and_keys),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_purpose_file),
		cmocka_unit_test(test_verifier_keys),
		cmocka_unit_test(test_wrong_purpose),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
