/*
 * bare_scan.c - the upload benchmark's anchor: what libclamav alone costs
 * to scan a file, with the engine, database and scan options the nginx
 * module uses, and the clean-file cache off (every upload in the benchmark
 * is a different file, so the module never hits it either).
 *
 *   bare_scan DBPATH FILE COUNT
 *
 * libclamav's temporary directory is $TMPDIR (or /tmp), as for nginx
 * without gatehouse_clamav_tmp.  Prints one JSON object: CPU ms per scan
 * (user + system, getrusage), wall ms per scan, the resident memory the
 * compiled engine added, and a second anchor, the CPU ms of one SHA-256 of
 * the file (OpenSSL EVP, as the module computes it), which the module pays
 * whether it scans or not.  A third anchor: the CPU ms of one libmagic
 * magic_buffer() on the file's first 32 KiB (what the module hands it),
 * with the module's flags (GH_MAGIC_FLAGS, or the environment's
 * BARE_MAGIC_FLAGS as a number, for the table of options in
 * bench/README.md).
 */
#include <clamav.h>
#include <magic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../nginx_module/magic_flags.h"

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static double
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	struct cl_engine *e = NULL;
	struct cl_scan_options o;
	unsigned sigs = 0;
	long n, i, rss0, rss1;
	double c0, w0, c1, w1, sha_ms, magic_ms;
	magic_t m = NULL;
	const char *mime = NULL, *env;
	int mflags = GH_MAGIC_FLAGS;
	int rc = 1, err;
	unsigned char *data = NULL;
	size_t len = 0;

	if (argc != 4 || (n = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: bare_scan DBPATH FILE COUNT\n");
		return 64;
	}
	rss0 = rss_kib();
	if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS ||
	    (e = cl_engine_new()) == NULL)
		goto cleanup;
	cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE, 1);
	err = cl_load(argv[1], e, &sigs, CL_DB_STDOPT);
	if (err == CL_SUCCESS)
		err = cl_engine_compile(e);
	if (err != CL_SUCCESS) {
		fprintf(stderr, "bare_scan: %s\n", cl_strerror(err));
		goto cleanup;
	}
	rss1 = rss_kib();

	memset(&o, 0, sizeof(o));
	o.general = CL_SCAN_GENERAL_HEURISTICS;
	o.parse = ~0u;
	o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	              CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE;

	c0 = cpu_ms();
	w0 = wall_ms();
	for (i = 0; i < n; i++) {
		const char *name = NULL;
		unsigned long scanned = 0;

		err = cl_scanfile(argv[2], &name, &scanned, e, &o);
		if (err != CL_CLEAN && err != CL_VIRUS) {
			fprintf(stderr, "bare_scan: %s\n", cl_strerror(err));
			goto cleanup;
		}
	}
	c1 = cpu_ms();
	w1 = wall_ms();

	data = slurp(argv[2], &len);
	if (data == NULL)
		goto cleanup;
	sha_ms = cpu_ms();
	for (i = 0; i < n; i++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen;
		EVP_MD_CTX *h = EVP_MD_CTX_new();

		/* in 32 KiB steps, as the module's write buffer */
		if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1)
			goto cleanup;
		for (size_t off = 0; off < len; off += 32768)
			EVP_DigestUpdate(h, data + off,
			                 len - off < 32768 ? len - off : 32768);
		EVP_DigestFinal_ex(h, md, &mdlen);
		EVP_MD_CTX_free(h);
	}
	sha_ms = (cpu_ms() - sha_ms) / (double)n;

	/* libmagic as the module calls it: the first 32 KiB, once per file
	 * (NGX_HTTP_GATEHOUSE_WBUF) */
	if ((env = getenv("BARE_MAGIC_FLAGS")) != NULL)
		mflags = (int)strtol(env, NULL, 0);
	if ((m = magic_open(mflags)) == NULL || magic_load(m, NULL) != 0) {
		fprintf(stderr, "bare_scan: libmagic: %s\n",
		        m ? magic_error(m) : "magic_open failed");
		goto cleanup;
	}
	magic_ms = cpu_ms();
	for (i = 0; i < n; i++)
		mime = magic_buffer(m, data, len < 32768 ? len : 32768);
	magic_ms = (cpu_ms() - magic_ms) / (double)n;

	printf("{\"scans\": %ld, \"cpu_ms\": %.4f, \"wall_ms\": %.4f, "
	       "\"engine_kib\": %ld, \"signatures\": %u, "
	       "\"sha256_ms\": %.4f, \"magic_ms\": %.4f, "
	       "\"magic_type\": \"%s\"}\n", n,
	       (c1 - c0) / (double)n, (w1 - w0) / (double)n, rss1 - rss0, sigs,
	       sha_ms, magic_ms, mime ? mime : "?");
	rc = 0;
cleanup:
	if (m)
		magic_close(m);
	free(data);
	if (e)
		cl_engine_free(e);
	return rc;
}
