/*
 * test_text.c - the strict UTF-8 decoder and the escape of untrusted bytes
 * (gatehouse/text.h), the one copy the milter, the nginx and PAM modules and
 * notifyd use.  The nginx module's tests (test_filename) cover the escape's
 * cut in more depth through the original_name field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gatehouse/text.h"

/* gh_utf8_next on s (len bytes) gives n and, if n, cp. */
static void
next_is(const char *s, size_t len, size_t n, uint32_t cp)
{
	uint32_t got = 0xdeadu;
	size_t k = gh_utf8_next(s, len, &got);

	if (k != n || (n != 0 && got != cp))
		fail_msg("gh_utf8_next: %zu U+%04X, want %zu U+%04X", k,
		         (unsigned)got, n, (unsigned)cp);
}

static void
test_utf8_next(void **state)
{
	(void)state;
	next_is("a", 1, 1, 'a');
	next_is("", 0, 0, 0);
	next_is("\0", 1, 1, 0);                         /* NUL is data */
	next_is("\xc2\x80", 2, 2, 0x80);                /* smallest 2-byte */
	next_is("\xdf\xbf", 2, 2, 0x7ff);
	next_is("\xe0\xa0\x80", 3, 3, 0x800);           /* smallest 3-byte */
	next_is("\xef\xbf\xbf", 3, 3, 0xffff);
	next_is("\xf0\x90\x80\x80", 4, 4, 0x10000);     /* smallest 4-byte */
	next_is("\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff);    /* the largest */
	/* overlong forms of '/', NUL, U+07FF, U+FFFF */
	next_is("\xc0\xaf", 2, 0, 0);
	next_is("\xc1\xbf", 2, 0, 0);
	next_is("\xc0\x80", 2, 0, 0);
	next_is("\xe0\x9f\xbf", 3, 0, 0);
	next_is("\xf0\x8f\xbf\xbf", 4, 0, 0);
	/* surrogates, each half and the edges around them */
	next_is("\xed\xa0\x80", 3, 0, 0);               /* U+D800 */
	next_is("\xed\xbf\xbf", 3, 0, 0);               /* U+DFFF */
	next_is("\xed\x9f\xbf", 3, 3, 0xd7ff);
	next_is("\xee\x80\x80", 3, 3, 0xe000);
	/* past U+10FFFF, and lead bytes that can start nothing */
	next_is("\xf4\x90\x80\x80", 4, 0, 0);
	next_is("\xf5\x80\x80\x80", 4, 0, 0);
	next_is("\xff", 1, 0, 0);
	next_is("\x80", 1, 0, 0);                       /* stray continuation */
	/* truncated: by len, or by a byte that is no continuation */
	next_is("\xe2\x82\xac", 2, 0, 0);
	next_is("\xf0\x9f\x98", 3, 0, 0);
	next_is("\xe2\x82" "a", 3, 0, 0);
	next_is("\xc3", 1, 0, 0);
	assert_int_equal(gh_utf8_next("\xe2\x82\xac", 3, NULL), 3);
}

static void
test_utf8_valid(void **state)
{
	static const char ok[] = "abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92";

	(void)state;
	assert_true(gh_utf8_valid(ok, sizeof(ok) - 1));
	assert_true(gh_utf8_valid("", 0));
	assert_true(gh_utf8_valid("a\0b", 3));
	assert_false(gh_utf8_valid("\xc0\xaf", 2));
	assert_false(gh_utf8_valid("ab\xed\xa0\x80", 5));
	assert_false(gh_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(gh_utf8_valid("ab\xe2\x82", 4));
	assert_int_equal(gh_utf8_valid_prefix(ok, sizeof(ok) - 1),
	                 sizeof(ok) - 1);
	assert_int_equal(gh_utf8_valid_prefix("ab\xe2\x82", 4), 2);
	assert_int_equal(gh_utf8_valid_prefix("\xe2\x82\xac\xff", 4), 3);
	assert_int_equal(gh_utf8_valid_prefix("\x80z", 2), 0);
	/* cutting valid text on a character boundary */
	assert_int_equal(gh_utf8_cut("a\xe2\x82\xac", 4, 3), 1);
	assert_int_equal(gh_utf8_cut("a\xe2\x82\xac", 4, 4), 4);
	assert_int_equal(gh_utf8_cut("abc", 3, 2), 2);
	/* trimming what something else cut: a lead byte without its tail */
	assert_int_equal(gh_utf8_trim("ab\xe2\x82", 4), 2);
	assert_int_equal(gh_utf8_trim("ab\xe2", 3), 2);
	assert_int_equal(gh_utf8_trim("ab\xe2\x82\xac", 5), 5);
	assert_int_equal(gh_utf8_trim("\xf0\x9f\x98", 3), 0);
	assert_int_equal(gh_utf8_trim("ab", 2), 2);
	assert_int_equal(gh_utf8_trim("a\x80\x80", 3), 3);      /* stray */
	assert_int_equal(gh_utf8_trim("", 0), 0);
}

/* The escape of in (len bytes) with flags is want, uncut. */
static void
esc_is(const char *in, size_t len, unsigned flags, const char *want)
{
	char out[256];
	int cut = -1;
	size_t n = gh_text_escape(in, len, out, sizeof(out), flags, &cut);

	if (n != strlen(want) || strcmp(out, want) != 0 || cut != 0)
		fail_msg("escape: got \"%s\" (%zu, cut %d), want \"%s\"", out,
		         n, cut, want);
	if (!gh_utf8_valid(out, n))
		fail_msg("escape of \"%s\" is not UTF-8", want);
}

static void
test_escape_rule(void **state)
{
	(void)state;
	esc_is("alice", 5, 0, "alice");
	esc_is("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, 0, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	esc_is("a\\b", 3, 0, "a\\\\b");
	esc_is("a\tb\nc\rd", 7, 0, "a\\tb\\nc\\rd");
	esc_is("a\0b\x1b[0m\x7f", 8, 0, "a\\x00b\\x1b[0m\\x7f");
	/* every byte of an invalid sequence, each as \xhh */
	esc_is("\xc0\xaf", 2, 0, "\\xc0\\xaf");                 /* overlong */
	esc_is("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");        /* surrogate */
	esc_is("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");/* > max */
	esc_is("x\xe2\x82", 3, 0, "x\\xe2\\x82");               /* truncated */
	esc_is("\xff\xfe", 2, 0, "\\xff\\xfe");
	esc_is("\xf4\x8f\xbf\xbf", 4, 0, "\\u{10ffff}");        /* noncharacter */
	/* C1, bidi, zero-width, line separators */
	esc_is("\xc2\x85z", 3, 0, "\\u{0085}z");
	esc_is("a\xe2\x80\xae" "b", 5, 0, "a\\u{202e}b");
	esc_is("\xe2\x80\x8b", 3, 0, "\\u{200b}");
	esc_is("\xe2\x80\xa8\xe2\x80\xa9", 6, 0, "\\u{2028}\\u{2029}");
	esc_is("\xef\xbb\xbf" "x", 4, 0, "\\u{feff}x");
	/* the rest of the one table (gh_text_invisible): Arabic number signs,
	 * Egyptian format controls, variation selectors, noncharacters */
	esc_is("\xd8\x80" "1", 3, 0, "\\u{0600}1");
	esc_is("\xf0\x93\x90\xb0", 4, 0, "\\u{13430}");
	esc_is("\xef\xb8\x8f", 3, 0, "\\u{fe0f}");
	esc_is("\xef\xb7\x90", 3, 0, "\\u{fdd0}");
	assert_true(gh_text_variation_selector(0xfe0f));
	assert_true(gh_text_variation_selector(0xe0100));
	assert_false(gh_text_variation_selector(0xe0001));
	assert_false(gh_text_variation_selector(0x200b));
	/* identities keep one '\'; everything else is the same */
	esc_is("DOM\\alice", 9, GH_TEXT_IDENT, "DOM\\alice");
	esc_is("a\\\x01", 3, GH_TEXT_IDENT, "a\\\\x01");
	esc_is(NULL, 0, 0, "");
}

static void
test_escape_cut(void **state)
{
	char out[GH_TEXT_ESC_MIN + 8], big[64];
	int cut = -1;
	size_t n;

	(void)state;
	/* too small a buffer or a NULL with a length: "" */
	assert_int_equal(gh_text_escape("a", 1, out, GH_TEXT_ESC_MIN - 1, 0,
	                                &cut), 0);
	assert_string_equal(out, "");
	assert_int_equal(gh_text_escape(NULL, 3, out, sizeof(out), 0, &cut),
	                 0);
	/* cut between escapes, never inside one, marked */
	memset(big, 'a', sizeof(big));
	big[9] = '\x01';
	n = gh_text_escape(big, sizeof(big), out, GH_TEXT_ESC_MIN, 0, &cut);
	assert_int_equal(cut, 1);
	assert_string_equal(out, "aaaaaaaaa\\...");
	assert_int_equal(n, strlen(out));
	/* never inside a character */
	n = gh_text_escape("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	                   "\xe2\x82\xac\xe2\x82\xac", 18, out, GH_TEXT_ESC_MIN,
	                   0, &cut);
	assert_int_equal(cut, 1);
	assert_string_equal(out, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\\...");
	/* exactly full is not cut */
	n = gh_text_escape(big, GH_TEXT_ESC_MIN - 1, out, GH_TEXT_ESC_MIN, 0,
	                   &cut);
	assert_int_equal(cut, 1);       /* 15 bytes + 3 for \x01 > 15 */
	memset(big, 'b', sizeof(big));
	n = gh_text_escape(big, GH_TEXT_ESC_MIN - 1, out, GH_TEXT_ESC_MIN, 0,
	                   &cut);
	assert_int_equal(cut, 0);
	assert_int_equal(n, GH_TEXT_ESC_MIN - 1);
	/* gh_text_escaped_cut: a lone '\' of an identity is one unit */
	assert_int_equal(gh_text_escaped_cut("D\\\xc3\xa9xyzw", 8, 7), 2);
	assert_int_equal(gh_text_escaped_cut("ab\\x01cd", 8, 7), 2);
}

/* Every cut against the rule it must follow, over many inputs and every
 * room from the smallest: the whole escape when it fits, else its longest
 * start that ends between two escapes with room for the mark, and the mark
 * (gh_text_escaped_cut on the whole is that rule; flags 0: in an
 * identity's escape a kept '\' before "x01" reads as an escape). */
static void
test_escape_cut_rule(void **state)
{
	static const char alphabet[] = "a\\\x01\n\xff\xc3\xa9\xe2\x80\xae"
	    "\xf0\x9f\x98\x80\xe2\x82";
	unsigned long seed = 12345;
	char in[40], whole[40 * GH_TEXT_ESC_GROWTH + 1], out[200];
	size_t len, wlen, size, n, keep, i;
	int cut, round;
	const unsigned flags = 0;

	(void)state;
	for (round = 0; round < 2000; round++) {
		len = (size_t)(round % 40);
		for (i = 0; i < len; i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			in[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		wlen = gh_text_escape(in, len, whole, sizeof(whole), flags, &cut);
		assert_int_equal(cut, 0);
		for (size = GH_TEXT_ESC_MIN; size < sizeof(out); size++) {
			n = gh_text_escape(in, len, out, size, flags, &cut);
			if (wlen < size) {
				assert_int_equal(cut, 0);
				assert_int_equal(n, wlen);
				assert_memory_equal(out, whole, wlen + 1);
				continue;
			}
			keep = gh_text_escaped_cut(whole, wlen, size - 1);
			assert_int_equal(cut, 1);
			assert_int_equal(n, keep + GH_TEXT_CUT_MARK_LEN);
			assert_memory_equal(out, whole, keep);
			assert_string_equal(out + keep, GH_TEXT_CUT_MARK);
		}
	}
}

static void
test_text_json(void **state)
{
	json_t *j;
	char big[2000];

	(void)state;
	j = gh_text_json("caf\xe9 \\ \x01", 100, 0);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "caf\\xe9 \\\\ \\x01");
	json_decref(j);
	j = gh_text_json(NULL, 100, 0);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
	/* long: on the heap, cut to max with the mark */
	memset(big, '\xff', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	j = gh_text_json(big, 1000, 0);
	assert_int_equal(json_string_length(j), 996 + GH_TEXT_CUT_MARK_LEN);
	assert_string_equal(json_string_value(j) + 996, GH_TEXT_CUT_MARK);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_next),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_escape_rule),
		cmocka_unit_test(test_escape_cut),
		cmocka_unit_test(test_escape_cut_rule),
		cmocka_unit_test(test_text_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
