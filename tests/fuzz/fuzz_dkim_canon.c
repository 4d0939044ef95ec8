/*
 * fuzz_dkim_canon.c - libFuzzer target for the milter's header parser,
 * header list and DKIM canonicalizers (milter/dkim/hdrparse.c, hdrlist.c,
 * canon.c).  Built and run by `make fuzz-milter`.
 *
 * The input is a raw message.  Besides looking for memory errors and
 * undefined behaviour (ASan, UBSan), it checks properties and aborts when
 * one fails:
 *   - relaxed header output has no line break, tab or double space and no
 *     space right after the colon or at the end;
 *   - simple header output has no LF without CR before it;
 *   - neither output exceeds gm_canon_header_bound();
 *   - the body hash does not depend on how the body is cut into chunks
 *     (cuts chosen from the input's first byte);
 *   - selection returns only fields whose name matches the one asked for.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../milter/dkim/canon.h"
#include "../../milter/dkim/hdrlist.h"
#include "../../milter/dkim/hdrparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_relaxed(const char *out, size_t len)
{
	const char *colon = memchr(out, ':', len);
	size_t i;

	check(colon != NULL);
	for (i = 0; i < len; i++) {
		check(out[i] != '\n' && out[i] != '\t');
		if (out[i] == ' ')
			check(i + 1 < len && out[i + 1] != ' ' &&
			    &out[i] != colon + 1);
	}
	for (i = 0; i < (size_t)(colon - out); i++)
		check(!(out[i] >= 'A' && out[i] <= 'Z'));
}

static void
check_simple(const char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (out[i] == '\n')
			check(i > 0 && out[i - 1] == '\r');
}

static gh_err
on_field(void *arg, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	struct gm_hdrlist *l = arg;
	size_t bound = gm_canon_header_bound(namelen, valuelen);
	char *out = malloc(bound);
	size_t len = 0;
	gh_err err;

	if (out == NULL)
		return GH_ENOMEM;
	err = gm_canon_header(GH_CANON_SIMPLE, name, namelen, value, valuelen,
	    out, bound, &len);
	check(err == GH_OK && len <= bound);
	check_simple(out, len);
	err = gm_canon_header(GH_CANON_RELAXED, name, namelen, value,
	    valuelen, out, bound, &len);
	check(err == GH_OK && len <= bound);
	check_relaxed(out, len);
	/* A buffer one byte short must fail cleanly, not overflow. */
	if (len > 0) {
		err = gm_canon_header(GH_CANON_RELAXED, name, namelen, value,
		    valuelen, out, len - 1, &len);
		check(err == GH_ETOOBIG);
	}
	free(out);
	/* Bounds may refuse a field; that is fine, keep parsing. */
	(void)gm_hdrlist_add(l, name, namelen, value, valuelen);
	return GH_OK;
}

static void
body_hash(gm_canon c, const uint8_t *p, size_t n, uint32_t seed,
    unsigned char out[GH_SHA256_LEN])
{
	struct gm_body_canon *bc = NULL;
	size_t i = 0;

	check(gm_body_canon_new(c, &bc) == GH_OK);
	while (i < n) {
		size_t chunk = n - i;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			chunk = 1 + (seed >> 16) % 17;
			if (chunk > n - i)
				chunk = n - i;
		}
		check(gm_body_canon_update(bc, p + i, chunk) == GH_OK);
		i += chunk;
	}
	check(gm_body_canon_final(bc, out) == GH_OK);
	gm_body_canon_free(bc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sign[] = {"From", "To", "Subject", "Date",
	    "X-A"};
	struct gm_hdrlist l;
	const char *plan[GH_HDR_MAX_SIGNED];
	const struct gm_hdr *sel[GH_HDR_MAX_SIGNED];
	size_t nplan = 0;
	size_t off = 0;
	uint32_t seed;
	int c;
	size_t i;

	if (size == 0)
		return 0;
	seed = (uint32_t)data[0] + 1;
	gm_hdrlist_init(&l);
	if (gm_hdrparse((const char *)data, size, on_field, &l, &off) != GH_OK)
		off = 0;	/* malformed headers: still fuzz the body */
	if (gm_hdrlist_plan(&l, sign, 5, sign + 1, 2, plan, &nplan) == GH_OK) {
		check(gm_hdrlist_select(&l, plan, nplan, sel) == GH_OK);
		for (i = 0; i < nplan; i++)
			if (sel[i] != NULL)
				check(gm_hdr_name_eq(sel[i]->name,
				    sel[i]->namelen, plan[i], strlen(plan[i])));
	}
	gm_hdrlist_clear(&l);

	for (c = 0; c < 2; c++) {
		unsigned char whole[GH_SHA256_LEN];
		unsigned char cut[GH_SHA256_LEN];

		body_hash((gm_canon)c, data + off, size - off, 0, whole);
		body_hash((gm_canon)c, data + off, size - off, seed, cut);
		check(memcmp(whole, cut, sizeof(whole)) == 0);
	}
	return 0;
}
