/*
 * fuzz_multipart.c - libFuzzer target for the multipart parser
 * (nginx_module/parse/multipart.c), with the filename sanitizer and category
 * lookup run on every filename it yields.
 *
 * Input: one byte choosing chunk sizes and limits, then a Content-Type value
 * up to the first '\n' (its boundary is used if it parses, else "b"), then
 * the body.  Besides crashes and sanitizer reports it checks:
 *   - the body parsed in one piece and in small chunks gives the same
 *     events and the same result (the streaming split must not matter);
 *   - part_data never gets 0 bytes; part_end never without part_begin;
 *     a successful parse ended every part it began;
 *   - every sanitized filename keeps filename.h's promises.
 * Build: make fuzz-nginx (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../nginx_module/parse/category.h"
#include "../../nginx_module/parse/filename.h"
#include "gatehouse/text.h"
#include "../../nginx_module/parse/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	uint64_t hash;
	unsigned begins, ends, errors;
	int open;
};

static void
mix(struct run *r, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		r->hash = (r->hash ^ b[i]) * 0x100000001b3ull;
}

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_name(const char *fn, size_t len)
{
	char out[GH_FN_MAX + 1], ext[GH_FN_EXT_MAX + 1];
	size_t n, i, ncat;
	unsigned fl;
	const struct gw_category *cats = gw_category_defaults(&ncat);

	n = gh_fn_sanitize(fn, len, out, sizeof(out), 0, &fl);
	check(n >= 1 && n <= GH_FN_MAX && strlen(out) == n);
	check(out[0] != '.' && out[0] != '-');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		check(c >= 0x20 && c != 0x7f && c != '/' && c != '\\');
	}
	n = gw_fn_ext(out, n, ext, sizeof(ext));
	(void)gw_category_by_ext(cats, ncat, ext, n);

	/* the original, escaped: bounded, no control byte, cut cleanly */
	{
		char esc[GH_FN_ORIG_MAX + 1];
		int cut;
		size_t k;

		n = gh_text_escape(fn, len, esc, sizeof(esc), 0, &cut);
		check(n <= GH_FN_ORIG_MAX && strlen(esc) == n);
		check(!cut || (n >= GH_TEXT_CUT_MARK_LEN &&
		    memcmp(esc + n - GH_TEXT_CUT_MARK_LEN, GH_TEXT_CUT_MARK,
		           GH_TEXT_CUT_MARK_LEN) == 0));
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)esc[i];

			check(c >= 0x20 && c != 0x7f);
		}
		k = gh_text_escaped_cut(esc, n, 128);
		check(k <= n && (n <= 128 ? k == n : k <= 124));
	}
}

static int
on_begin(void *arg, const struct gw_mp_part *p)
{
	struct run *r = arg;

	check(!r->open);
	r->open = 1;
	r->begins++;
	mix(r, "B", 1);
	mix(r, &p->index, sizeof(p->index));
	mix(r, p->name, p->name_len);
	mix(r, "|", 1);
	if (p->has_filename) {
		mix(r, p->filename, p->filename_len);
		check_name(p->filename, p->filename_len);
	}
	mix(r, "|", 1);
	if (p->content_type != NULL)
		mix(r, p->content_type, p->content_type_len);
	return 0;
}

static int
on_data(void *arg, const unsigned char *d, size_t n)
{
	struct run *r = arg;

	check(n > 0 && r->open);
	mix(r, d, n);
	return 0;
}

static int
on_end(void *arg)
{
	struct run *r = arg;

	check(r->open);
	r->open = 0;
	r->ends++;
	mix(r, "E", 1);
	return 0;
}

static void
on_error(void *arg, gw_mp_err err)
{
	struct run *r = arg;

	r->errors++;
	mix(r, "!", 1);
	mix(r, &err, sizeof(err));
}

static const struct gw_mp_callbacks cbs = {
	on_begin, on_data, on_end, on_error
};

static gw_mp_err
run(struct gw_mp_parser *p, const char *bnd, size_t blen,
    const struct gw_mp_limits *lim, const uint8_t *body, size_t len,
    unsigned seed, struct run *r)
{
	gw_mp_err err;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ull;
	check(gw_mp_init(p, bnd, blen, lim, &cbs, r) == GH_MP_OK);
	while (off < len) {
		size_t n = len - off;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 17;
			if (n > len - off)
				n = len - off;
		}
		err = gw_mp_feed(p, body + off, n);
		if (err != GH_MP_OK)
			goto out;
		off += n;
	}
	err = gw_mp_finish(p);
out:
	check(r->errors == (err != GH_MP_OK));
	if (err == GH_MP_OK)
		check(r->begins == r->ends && !r->open);
	check(r->begins == r->ends || r->begins == r->ends + 1);
	return err;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_mp_parser p;   /* 8 KiB: keep it off the stack */
	char bnd[GH_MP_BOUNDARY_MAX + 1];
	size_t blen = 0, ctlen;
	const uint8_t *nl;
	struct gw_mp_limits lim;
	struct run a, b;
	gw_mp_err ea, eb;
	unsigned seed;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	memset(&lim, 0, sizeof(lim));
	if (data[0] & 0x80) {
		lim.max_parts = 1 + (data[0] & 7);
		lim.max_header_bytes = 64 + 16 * (data[0] & 0x30);
		lim.max_preamble = 32;
	}
	data++;
	size--;
	nl = memchr(data, '\n', size < 256 ? size : 256);
	ctlen = nl != NULL ? (size_t)(nl - data) : 0;
	if (nl == NULL ||
	    gw_mp_boundary((const char *)data, ctlen, bnd, sizeof(bnd), &blen)
	    != GH_MP_OK) {
		memcpy(bnd, "b", 2);
		blen = 1;
	}
	if (nl != NULL) {
		data += ctlen + 1;
		size -= ctlen + 1;
	}
	ea = run(&p, bnd, blen, &lim, data, size, 0, &a);
	eb = run(&p, bnd, blen, &lim, data, size, seed, &b);
	check(ea == eb);
	check(a.hash == b.hash && a.begins == b.begins && a.ends == b.ends);
	return 0;
}
