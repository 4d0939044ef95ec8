/*
 * dkim_sign_file.c - test driver: sign a message file with the milter's DKIM
 * core and print the DKIM-Signature field(s), so that independent
 * verifiers (dkimpy, Mail::DKIM) can check them.
 *
 * It feeds the core the way the milter will: header fields one by one in
 * libmilter's SMFIP_HDR_LEADSPC form, then the body in chunks (of -b bytes,
 * or of pseudo-random sizes with -r), then finish.
 *
 * usage: dkim-sign-file [-d DOMAIN] [-c HDR/BODY] [-t TIME] [-x EXPIRE]
 *            [-b CHUNK] [-r] [-l] [-H NAME:NAME...] [-O NAME:NAME...]
 *            -s SELECTOR -k KEYFILE [-s SELECTOR -k KEYFILE ...] FILE
 *        dkim-sign-file -p KEYFILE
 *
 *   -c, -s, -H and -O apply to the -k options that follow them; each -k
 *   adds one signature.  -t defaults to now, -t -1 leaves t= out.  -H/-O
 *   default to the built-in lists; -O "" oversigns nothing.  Output is
 *   "DKIM-Signature:VALUE" per signature with CRLF line ends (-l: LF, as
 *   the milter hands it to smfi_insheader).  -p prints the DNS TXT record
 *   text of a key.  Exit 0 on success, 1 on a signing error, 2 on usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/dkimkey.h"
#include "gatehouse/err.h"
#include "../../../milter/dkim/dkim.h"
#include "../../../milter/dkim/hdrparse.h"

#define MAX_FILE (64L * 1024 * 1024)
#define MAX_LISTS 16

struct names {
	char *buf;
	const char *v[GH_DKIM_MAX_NAMES];
	size_t n;
};

static void
usage(void)
{
	fputs("usage: dkim-sign-file [-d DOMAIN] [-c HDR/BODY] [-t TIME] "
	    "[-x EXPIRE] [-b CHUNK] [-r] [-l]\n"
	    "           [-H NAMES] [-O NAMES] -s SELECTOR -k KEY ... FILE\n"
	    "       dkim-sign-file -p KEY\n", stderr);
	exit(2);
}

static void
die(const char *what, gh_err err)
{
	fprintf(stderr, "dkim-sign-file: %s: %s\n", what, gh_strerror(err));
	exit(1);
}

static long long
number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || end == s)
		usage();
	return v;
}

/* Split a colon-separated list; the strings live in a copy of s. */
static void
split_names(struct names *nl, const char *s)
{
	char *p;
	char *save = NULL;

	nl->buf = strdup(s);
	if (nl->buf == NULL)
		die("names", GH_ENOMEM);
	nl->n = 0;
	for (p = strtok_r(nl->buf, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save)) {
		if (nl->n == GH_DKIM_MAX_NAMES)
			usage();
		nl->v[nl->n++] = p;
	}
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	size_t n = 0;

	if (f == NULL) {
		fprintf(stderr, "dkim-sign-file: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	for (;;) {
		size_t r;

		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)MAX_FILE + 1)
				cap = (size_t)MAX_FILE + 1;
			if (n == cap) {
				fprintf(stderr, "dkim-sign-file: %s: too large\n",
				    path);
				exit(1);
			}
			nb = realloc(buf, cap);
			if (nb == NULL)
				die(path, GH_ENOMEM);
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "dkim-sign-file: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	*len = n;
	return buf;
}

static gh_err
on_field(void *arg, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	return gm_dkim_msg_header_n(arg, name, namelen, value, valuelen);
}

static void
print_txt(const char *path)
{
	struct gh_dkim_key *key = NULL;
	char detail[512] = "";
	char txt[GH_DKIM_TXT_MAX];
	gh_err err;

	err = gh_dkim_key_load(path, &key, detail, sizeof(detail));
	if (err) {
		fprintf(stderr, "dkim-sign-file: %s\n", detail);
		exit(1);
	}
	err = gh_dkim_key_txt(key, txt, sizeof(txt), NULL);
	gh_dkim_key_free(key);
	if (err)
		die("key record", err);
	printf("%s\n", txt);
}

int
main(int argc, char **argv)
{
	struct gm_dkim_sign_opts sigs[GH_DKIM_MAX_SIGS];
	struct gh_dkim_key *keys[GH_DKIM_MAX_SIGS];
	/* Every -H/-O list given; signatures point into them. */
	struct names lists[2 * MAX_LISTS];
	struct names *hcur = NULL;
	struct names *ocur = NULL;
	size_t nlists = 0;
	struct gm_dkim_msg *m = NULL;
	const char *domain = "example.com";
	const char *selector = NULL;
	gm_canon hc = GH_CANON_RELAXED;
	gm_canon bc = GH_CANON_RELAXED;
	long long t = (long long)time(NULL);
	long long x = 0;
	size_t chunk = 65535;	/* libmilter's MILTER_CHUNK_SIZE */
	int random_chunks = 0;
	int lf = 0;
	size_t nsigs = 0;
	char *msg;
	size_t len = 0;
	size_t off = 0;
	size_t i;
	uint32_t seed = 42;
	gh_err err;
	int ch;

	memset(lists, 0, sizeof(lists));
	while ((ch = getopt(argc, argv, "b:c:d:H:k:lO:p:rs:t:x:")) != -1) {
		switch (ch) {
		case 'b':
			if (number(optarg) <= 0)
				usage();
			chunk = (size_t)number(optarg);
			break;
		case 'c':
			if (gm_canon_parse(optarg, &hc, &bc) != GH_OK)
				usage();
			break;
		case 'd':
			domain = optarg;
			break;
		case 'H':
		case 'O':
			if (nlists == 2 * MAX_LISTS)
				usage();
			split_names(&lists[nlists], optarg);
			if (ch == 'H')
				hcur = &lists[nlists];
			else
				ocur = &lists[nlists];
			nlists++;
			break;
		case 'k': {
			char detail[512] = "";

			if (selector == NULL || nsigs == GH_DKIM_MAX_SIGS)
				usage();
			err = gh_dkim_key_load(optarg, &keys[nsigs], detail,
			    sizeof(detail));
			if (err) {
				fprintf(stderr, "dkim-sign-file: %s\n", detail);
				return 1;
			}
			memset(&sigs[nsigs], 0, sizeof(sigs[nsigs]));
			sigs[nsigs].key = keys[nsigs];
			sigs[nsigs].domain = domain;
			sigs[nsigs].selector = selector;
			sigs[nsigs].hdr_canon = hc;
			sigs[nsigs].body_canon = bc;
			sigs[nsigs].t = t;
			sigs[nsigs].x = x;
			if (hcur != NULL) {
				sigs[nsigs].headers = hcur->v;
				sigs[nsigs].nheaders = hcur->n;
			}
			if (ocur != NULL) {
				sigs[nsigs].oversign = ocur->v;
				sigs[nsigs].noversign = ocur->n;
			}
			nsigs++;
			break;
		}
		case 'l':
			lf = 1;
			break;
		case 'p':
			print_txt(optarg);
			return 0;
		case 'r':
			random_chunks = 1;
			break;
		case 's':
			selector = optarg;
			break;
		case 't':
			t = number(optarg);
			break;
		case 'x':
			x = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || nsigs == 0)
		usage();

	msg = read_file(argv[optind], &len);
	err = gm_dkim_msg_new(sigs, nsigs, &m);
	if (err)
		die("signature options", err);
	err = gm_hdrparse(msg, len, on_field, m, &off);
	if (err)
		die("header", err);
	for (i = off; i < len;) {
		size_t n = chunk;

		if (random_chunks) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 8) % chunk;
		}
		if (n > len - i)
			n = len - i;
		err = gm_dkim_msg_body(m, msg + i, n);
		if (err)
			die("body", err);
		i += n;
	}
	err = gm_dkim_msg_finish(m);
	if (err)
		die("signing", err);
	for (i = 0; i < nsigs; i++) {
		const char *p;

		fputs(GH_DKIM_SIG_NAME ":", stdout);
		for (p = gm_dkim_msg_value(m, i); *p != '\0'; p++) {
			if (*p == '\n' && !lf)
				putchar('\r');
			putchar(*p);
		}
		fputs(lf ? "\n" : "\r\n", stdout);
	}
	gm_dkim_msg_free(m);
	for (i = 0; i < nsigs; i++)
		gh_dkim_key_free(keys[i]);
	for (i = 0; i < nlists; i++)
		free(lists[i].buf);
	free(msg);
	return fflush(stdout) == 0 ? 0 : 1;
}
