/*
 * test_token.c - unsubscribe and download tokens: round trip, tampering,
 * wrong purpose, expiry, key rotation, malformed input, key files; and the
 * base64/hex codecs they rest on.
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
		cmocka_unit_test(test_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
