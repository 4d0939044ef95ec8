/*
 * fuzz_clamd_reply.c - libFuzzer target for the parse of clamd's replies
 * (scanner/gscan_clamd.c): gscan_clamd_reply() and gscan_clamd_version()
 * on any bytes.  What comes back from a socket is not ours: a verdict must
 * always be one of the four, its name NUL-terminated, printable and in
 * bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/gscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gscan_verdict v;
	int r;

	memset(&v, 0x5a, sizeof(v));
	gscan_clamd_reply((const char *)data, size, &v);
	if (v.kind != GSCAN_CLEAN && v.kind != GSCAN_INFECTED &&
	    v.kind != GSCAN_UNSCANNABLE && v.kind != GSCAN_ERROR)
		abort();
	if (memchr(v.name, '\0', sizeof(v.name)) == NULL)
		abort();
	for (const char *p = v.name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	if (v.kind == GSCAN_CLEAN && v.name[0] != '\0')
		abort();
	r = gscan_clamd_version((const char *)data, size);
	if (r < -1 || r > 1)
		abort();
	return 0;
}
