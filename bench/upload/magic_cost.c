/*
 * magic_cost.c - what libmagic's magic_buffer() costs on each file, and
 * what it answers, with each set of flags the nginx module could open its
 * handle with (bench/README.md, "libmagic options"; make bench-magic).
 *
 *   magic_cost COUNT FILE...
 *
 * Each file's first 32 KiB (what the module hands libmagic) are typed
 * COUNT times per option; prints one line per option and file: CPU
 * microseconds per call (getrusage), and the MIME type.
 */
#include <magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../../nginx_module/magic_flags.h"

static double
cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static const struct {
	const char *name;
	int flags;
} opts[] = {
	{"default (MIME_TYPE|ERROR)", MAGIC_MIME_TYPE | MAGIC_ERROR},
	{"+NO_CHECK_COMPRESS|TAR|APPTYPE|ELF|JSON|CSV",
	 MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS |
	 MAGIC_NO_CHECK_TAR | MAGIC_NO_CHECK_APPTYPE | MAGIC_NO_CHECK_ELF |
	 MAGIC_NO_CHECK_JSON | MAGIC_NO_CHECK_CSV},
	{"  ... |CDF", MAGIC_MIME_TYPE | MAGIC_ERROR |
	 MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR |
	 MAGIC_NO_CHECK_APPTYPE | MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_JSON |
	 MAGIC_NO_CHECK_CSV | MAGIC_NO_CHECK_CDF},
	{"  ... |ENCODING|TOKENS", MAGIC_MIME_TYPE | MAGIC_ERROR |
	 MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR |
	 MAGIC_NO_CHECK_APPTYPE | MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_JSON |
	 MAGIC_NO_CHECK_CSV | MAGIC_NO_CHECK_CDF | MAGIC_NO_CHECK_ENCODING |
	 MAGIC_NO_CHECK_TOKENS},
	{"NO_CHECK_BUILTIN (only soft)", MAGIC_MIME_TYPE | MAGIC_ERROR |
	 MAGIC_NO_CHECK_BUILTIN},
	{"NO_CHECK_SOFT (only built-in)", MAGIC_MIME_TYPE | MAGIC_ERROR |
	 MAGIC_NO_CHECK_SOFT},
	{"the module's (GH_MAGIC_FLAGS)", GH_MAGIC_FLAGS},
};

int
main(int argc, char **argv)
{
	static unsigned char buf[32768];
	long n;
	int i, o;

	if (argc < 3 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: magic_cost COUNT FILE...\n");
		return 64;
	}
	for (o = 0; o < (int)(sizeof(opts) / sizeof(opts[0])); o++) {
		magic_t m = magic_open(opts[o].flags);

		if (m == NULL || magic_load(m, NULL) != 0) {
			fprintf(stderr, "magic_cost: %s\n",
			        m ? magic_error(m) : "magic_open failed");
			return 70;
		}
		printf("%s (0x%x)\n", opts[o].name, opts[o].flags);
		for (i = 2; i < argc; i++) {
			FILE *f = fopen(argv[i], "rb");
			size_t len;
			const char *t = NULL;
			double c0;
			long k;

			if (f == NULL) {
				perror(argv[i]);
				return 66;
			}
			len = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			c0 = cpu_us();
			for (k = 0; k < n; k++)
				t = magic_buffer(m, buf, len);
			printf("  %-24s %8.1f us  %s\n",
			       strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1
			                             : argv[i],
			       (cpu_us() - c0) / (double)n, t ? t : "(error)");
		}
		magic_close(m);
	}
	return 0;
}
