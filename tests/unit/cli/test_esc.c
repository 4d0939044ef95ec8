/*
 * test_esc.c - the gatehouse command's escaped output (cli/esc.c):
 * what a stored string may contain never reaches the admin's terminal as
 * a control, a bidi override or a byte that is not UTF-8, and the printf
 * wrapper every print path goes through formats as printf does.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../cli/esc.h"

/* cli_escape of a string of n bytes, into a buffer the test owns. */
static const char *
esc(char *buf, size_t cap, const char *s, size_t n)
{
	size_t need = cli_escape(buf, cap, s, n);

	assert_true(need < cap);
	assert_int_equal(strlen(buf), need);
	return buf;
}

#define ESC(lit) esc(buf, sizeof(buf), lit, sizeof(lit) - 1)

/*
 * What a terminal must never be sent: any byte below 0x20 or 0x7f, a byte
 * that is not part of well-formed UTF-8, a C1 control, a bidi control or
 * another format character.  Checked by decoding out independently of
 * cli/esc.c (the ranges are written out again on purpose).
 */
static void
assert_terminal_safe(const char *out)
{
	const unsigned char *p = (const unsigned char *)out;

	while (*p) {
		uint32_t cp;
		size_t len, i;

		assert_true(*p >= 0x20 && *p != 0x7f);
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			len = 2;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			len = 3;
			cp = *p & 0x0f;
		} else {
			assert_true(*p >= 0xf0 && *p <= 0xf4);
			len = 4;
			cp = *p & 0x07;
		}
		for (i = 1; i < len; i++) {
			assert_int_equal(p[i] & 0xc0, 0x80);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		assert_true(cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u :
		                   0x10000u));
		assert_true(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
		assert_false(cp >= 0x80 && cp <= 0x9f);
		assert_false(cp >= 0x200b && cp <= 0x200f);
		assert_false(cp >= 0x2028 && cp <= 0x202e);
		assert_false(cp >= 0x2060 && cp <= 0x206f);
		assert_false(cp == 0xfeff || cp == 0x00ad || cp == 0x061c);
		assert_false(cp == 0x3164 || cp == 0x115f || cp == 0x034f);
		assert_false(cp >= 0xe0000 && cp <= 0xe00ff);
		p += len;
	}
}

static void
test_plain_text_unchanged(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(ESC(""), "");
	assert_string_equal(ESC("New sign-in from 192.0.2.7"),
	                    "New sign-in from 192.0.2.7");
	/* letters of every UTF-8 length, and a backslash, stay as they are */
	assert_string_equal(ESC("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
	                        "\xf0\x9f\x98\x80 C:\\x1b\\dir"),
	                    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
	                    "\xf0\x9f\x98\x80 C:\\x1b\\dir");
	/* no-break space, U+FFFD, an emoji's variation selector: printable,
	 * kept; the noncharacter U+10FFFF is escaped, as by the library */
	assert_string_equal(ESC("\xc2\xa0\xef\xbf\xbd\xf4\x8f\xbf\xbf"
	                        "\xe2\x9d\xa4\xef\xb8\x8f"),
	                    "\xc2\xa0\xef\xbf\xbd\\u{10ffff}"
	                    "\xe2\x9d\xa4\xef\xb8\x8f");
}

static void
test_c0_and_del(void **state)
{
	char buf[256], in[2] = {0, 0}, want[8];

	(void)state;
	assert_string_equal(ESC("\x1b[2J\x1b]0;owned\x07"),
	                    "\\x1b[2J\\x1b]0;owned\\x07");
	assert_string_equal(ESC("a\tb\nc\rd\x7f"), "a\\tb\\nc\\rd\\x7f");
	/* every C0 byte, NUL included (the length is explicit) */
	for (int b = 0; b < 0x20; b++) {
		in[0] = (char)b;
		if (b == '\t' || b == '\n' || b == '\r')
			snprintf(want, sizeof(want), "\\%c",
			         b == '\t' ? 't' : b == '\n' ? 'n' : 'r');
		else
			snprintf(want, sizeof(want), "\\x%02x", b);
		assert_string_equal(esc(buf, sizeof(buf), in, 1), want);
	}
}

static void
test_c1_controls(void **state)
{
	char buf[256], in[3], want[16];

	(void)state;
	/* U+009B (CSI) as UTF-8 and as the raw 8-bit byte */
	assert_string_equal(ESC("\xc2\x9b" "31m"), "\\u{009b}31m");
	assert_string_equal(ESC("\x9b" "31m"), "\\x9b31m");
	for (int cp = 0x80; cp <= 0x9f; cp++) {
		in[0] = (char)(0xc0 | (cp >> 6));
		in[1] = (char)(0x80 | (cp & 0x3f));
		snprintf(want, sizeof(want), "\\u{%04x}", cp);
		assert_string_equal(esc(buf, sizeof(buf), in, 2), want);
		snprintf(want, sizeof(want), "\\x%02x", cp);
		assert_string_equal(esc(buf, sizeof(buf), in + 1, 1), want);
	}
}

static void
test_invalid_utf8(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(ESC("\xff\xfe"), "\\xff\\xfe");
	assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");	/* overlong / */
	assert_string_equal(ESC("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
	assert_string_equal(ESC("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf");
	assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* D800 */
	assert_string_equal(ESC("\xf4\x90\x80\x80"),	/* above U+10FFFF */
	                    "\\xf4\\x90\\x80\\x80");
	/* cut short: by the end, by an ASCII byte, by a new lead byte */
	assert_string_equal(ESC("x\xe2\x80"), "x\\xe2\\x80");
	assert_string_equal(ESC("\xe2\x80[2J"), "\\xe2\\x80[2J");
	assert_string_equal(ESC("\xe2\xc3\xa9"), "\\xe2\xc3\xa9");
	/* a lone continuation byte */
	assert_string_equal(ESC("a\x80z"), "a\\x80z");
}

static void
test_format_characters(void **state)
{
	static const uint32_t cps[] = {
		/* embeddings, overrides, isolates */
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e,
		0x2066, 0x2067, 0x2068, 0x2069,
		/* zero width ones, LRM, RLM, separators, tags, fillers */
		0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
		0x2028, 0x2029, 0x2060, 0x061c, 0x00ad, 0xfeff,
		0xe0000, 0xe0001, 0xe0041, 0xe0fff, 0x3164, 0x115f, 0x034f,
		/* noncharacters, Arabic number signs (one table, text.h) */
		0xfdd0, 0xfffe, 0x0600, 0x110bd,
	};
	char buf[256], in[5], want[16];

	(void)state;
	assert_string_equal(ESC("invoice\xe2\x80\xaegpj.exe"),
	                    "invoice\\u{202e}gpj.exe");
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		uint32_t cp = cps[i];
		size_t n;

		if (cp < 0x800) {
			in[0] = (char)(0xc0 | (cp >> 6));
			in[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			in[0] = (char)(0xe0 | (cp >> 12));
			in[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			in[0] = (char)(0xf0 | (cp >> 18));
			in[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			in[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		snprintf(want, sizeof(want), "\\u{%04" PRIx32 "}", cp);
		assert_string_equal(esc(buf, sizeof(buf), in, n), want);
	}
}

static void
test_short_buffer(void **state)
{
	char buf[16];

	(void)state;
	/* measured without a buffer */
	assert_int_equal(cli_escape(NULL, 0, "a\x1b", 2), 5);
	/* cut between escapes, never inside one, always terminated */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(cli_escape(buf, 4, "a\x1b", 2), 5);
	assert_string_equal(buf, "a");
	assert_int_equal(cli_escape(buf, 6, "a\x1b" "b", 3), 6);
	assert_string_equal(buf, "a\\x1b");
	assert_int_equal(cli_escape(buf, 1, "abc", 3), 3);
	assert_string_equal(buf, "");
	assert_int_equal(cli_escape(buf, 3, "\xe6\x97\xa5", 3), 3);
	assert_string_equal(buf, "");
}

/* Random bytes, biased towards the interesting ones, escaped: the result
 * is safe for a terminal, and its measured length is its length. */
static void
test_random_bytes_come_out_safe(void **state)
{
	static const unsigned char pool[] = {
		0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x5b, 0x5c, 0x7f, 0x80,
		0x85, 0x9b, 0xa0, 0xad, 0xbf, 0xc0, 0xc2, 0xe0, 0xe2, 0x80,
		0xae, 0xed, 0xef, 0xbb, 0xf0, 0xf3, 0xf4, 0x8f, 0x90, 0xff,
		'a', ' ',
	};
	unsigned char in[24];
	char out[24 * 4 + 1];
	uint32_t x = 2463534242u;

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t n = 1 + round % sizeof(in), need;

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			in[i] = (x & 0x100) ? pool[x % sizeof(pool)] :
			        (unsigned char)x;
		}
		need = cli_escape(out, sizeof(out), (char *)in, n);
		assert_int_equal(need, strlen(out));
		assert_int_equal(cli_escape(NULL, 0, (char *)in, n), need);
		assert_terminal_safe(out);
	}
}

/* cli_fprintf into memory: what it wrote, NUL-terminated. */
static char *
run_printf(int *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *
run_printf(int *rc, const char *fmt, ...)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	va_list ap;

	assert_non_null(fp);
	va_start(ap, fmt);
	*rc = cli_vfprintf(fp, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(fp), 0);
	return text;
}

static void
test_printf_escapes_arguments_only(void **state)
{
	char *s;
	int rc;

	(void)state;
	/* the format's own newline stays; the argument's is escaped */
	s = run_printf(&rc, "title:  %s\n", "x\n\x1b[2Jy");
	assert_string_equal(s, "title:  x\\n\\x1b[2Jy\n");
	assert_int_equal(rc, (int)strlen(s));
	free(s);
	/* width pads the escaped text, left and right */
	s = run_printf(&rc, "[%-8s][%8s]", "\x1b" "a", "\xc2\x9b");
	assert_string_equal(s, "[\\x1ba   ][\\u{009b}]");
	free(s);
	s = run_printf(&rc, "[%*s][%-*s]", 6, "\t", -6, "\t");
	assert_string_equal(s, "[    \\t][\\t    ]");
	free(s);
	/* precision counts the argument's bytes, as printf's does */
	s = run_printf(&rc, "%.*s|%-6.2s|%.0s", 3, "ab\x1b" "cd", "\x7fxyz",
	               "gone");
	assert_string_equal(s, "ab\\x1b|\\x7fx |");
	free(s);
	s = run_printf(&rc, "%c%c%3c", 'a', '\x1b', '\x9b');
	assert_string_equal(s, "a\\x1b\\x9b");
	free(s);
}

static void
test_printf_numbers_as_printf(void **state)
{
	char want[256], *s;
	int rc;
	int64_t i64 = -1234567890123LL;
	size_t z = 42;
	double d = 3.14159;

	(void)state;
	s = run_printf(&rc, "%-8" PRId64 "|%-4" PRIu64 "|%zu|%5.1f%%|%x|%05d|"
	               "%+d|%lld|%u|%*d|%-*d|%.3d|%hhd|%p|%s",
	               i64, (uint64_t)7, z, d, 255u, 42, 5, -9LL, 3000000000u,
	               4, 7, 4, 7, 5, 300, (void *)want, "end");
	snprintf(want, sizeof(want), "%-8" PRId64 "|%-4" PRIu64 "|%zu|%5.1f%%|"
	         "%x|%05d|%+d|%lld|%u|%*d|%-*d|%.3d|%hhd|%p|%s",
	         i64, (uint64_t)7, z, d, 255u, 42, 5, -9LL, 3000000000u,
	         4, 7, 4, 7, 5, 300, (void *)want, "end");
	assert_string_equal(s, want);
	assert_int_equal(rc, (int)strlen(want));
	free(s);
	s = run_printf(&rc, "100%% %s%%", "done");
	assert_string_equal(s, "100% done%");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_c0_and_del),
		cmocka_unit_test(test_c1_controls),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_format_characters),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_random_bytes_come_out_safe),
		cmocka_unit_test(test_printf_escapes_arguments_only),
		cmocka_unit_test(test_printf_numbers_as_printf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
