/*
 * loadgen.c - the upload benchmark's HTTP load generator.
 *
 *   loadgen -p PORT -u PATH -b BODY -t CONTENT_TYPE -c CONC -n TOTAL
 *           [-m METHOD] [-H "Header: value"]...
 *
 * CONC threads, one keep-alive connection each (blocking sockets), send
 * TOTAL requests between them, each with BODY's bytes except for the 16
 * bytes at the marker "@@GATEHOUSE-UNIQ", replaced by a per-request value
 * so no two uploads are the same file (libclamav and clamd keep a cache of
 * files found clean: a repeated body would be scanned once).  A PATH
 * ending in '/' gets the same value appended (unique DAV PUT targets).
 *
 * Why not wrk: wrk runs for a duration, not a count, so the disk used by
 * 10 MB uploads is unbounded, and a unique body per request means building
 * a new 10 MB Lua string each time; this costs the client a 16-byte patch,
 * stops at an exact count and keeps every latency for exact percentiles.
 *
 * Prints one JSON object: requests, errors (status >= 300 or I/O) and the
 * first error's status (-1 for I/O), the wall time, requests per second,
 * p50 and p99 latency in ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MARKER "@@GATEHOUSE-UNIQ"
#define MARKER_LEN 16
#define MAX_HEADERS 8
#define HEAD_MAX 4096
#define RESP_MAX 65536

struct run {
	int port;
	const char *method, *path, *ctype;
	const char *headers[MAX_HEADERS];
	int nheaders;
	const unsigned char *body;
	size_t body_len;
	long marker;             /* offset of the marker, -1 if none */
	long total;
	int conc;
	unsigned run_id;
	atomic_long next;        /* requests handed out */
	atomic_long errors;
	atomic_int first_error;  /* status of the first refusal, -1: I/O */
	double *lat_ms;          /* one per request */
};

struct worker {
	struct run *run;
	int id;
	pthread_t thread;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Read one response; *status, *close_after.  0 or -1. */
static int
read_response(int fd, char *buf, size_t cap, int *status, int *close_after)
{
	size_t have = 0, head_len, body_len = 0, want;
	char *end, *p;

	for (;;) {
		ssize_t r;

		if (have == cap - 1)
			return -1;
		r = read(fd, buf + have, cap - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL)
			break;
	}
	head_len = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*c %d", status) != 1)
		return -1;
	*close_after = strcasestr(buf, "\r\nConnection: close") != NULL &&
	               strcasestr(buf, "\r\nConnection: close") < end;
	p = strcasestr(buf, "\r\nContent-Length:");
	if (p != NULL && p < end)
		body_len = strtoul(p + 17, NULL, 10);
	else
		*close_after = 1;
	want = head_len + body_len;
	while (have < want) {
		ssize_t r = read(fd, buf, cap - 1 < want - have ? cap - 1
		                                                : want - have);

		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return 0;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	unsigned char *body = NULL;
	char head[HEAD_MAX], path[1024], uniq[MARKER_LEN + 1];
	char *resp = malloc(RESP_MAX);
	int fd = -1;

	if (resp == NULL)
		goto cleanup;
	body = malloc(run->body_len ? run->body_len : 1);
	if (body == NULL)
		goto cleanup;
	memcpy(body, run->body, run->body_len);

	for (;;) {
		long i = atomic_fetch_add(&run->next, 1);
		struct iovec iov[2];
		int status = 0, close_after = 0, hl, k;
		double t0;

		if (i >= run->total)
			break;
		snprintf(uniq, sizeof(uniq), "%08x%08lx", run->run_id,
		         (unsigned long)i);
		if (run->marker >= 0)
			memcpy(body + run->marker, uniq, MARKER_LEN);
		if (run->path[strlen(run->path) - 1] == '/')
			snprintf(path, sizeof(path), "%s%s.bin", run->path, uniq);
		else
			snprintf(path, sizeof(path), "%s", run->path);
		hl = snprintf(head, sizeof(head),
		              "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		              "Content-Type: %s\r\nContent-Length: %zu\r\n",
		              run->method, path, run->ctype, run->body_len);
		for (k = 0; k < run->nheaders && hl > 0 &&
		            (size_t)hl < sizeof(head); k++)
			hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
			               "%s\r\n", run->headers[k]);
		if (hl <= 0 || (size_t)hl + 3 > sizeof(head))
			goto cleanup;
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");

		t0 = now_s();
		if (fd < 0)
			fd = dial(run->port);
		iov[0].iov_base = head;
		iov[0].iov_len = (size_t)hl;
		iov[1].iov_base = body;
		iov[1].iov_len = run->body_len;
		if (fd < 0 || send_all(fd, iov, 2) != 0 ||
		    read_response(fd, resp, RESP_MAX, &status, &close_after)
		    != 0) {
			int none = 0;

			atomic_fetch_add(&run->errors, 1);
			atomic_compare_exchange_strong(&run->first_error, &none,
			                               -1);
			close_after = 1;
		} else if (status >= 300) {
			int none = 0;

			atomic_fetch_add(&run->errors, 1);
			atomic_compare_exchange_strong(&run->first_error, &none,
			                               status);
		}
		run->lat_ms[i] = (now_s() - t0) * 1000.0;
		if (close_after && fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(body);
	free(resp);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
percentile(const double *v, long n, double p)
{
	long k;

	if (n == 0)
		return 0;
	k = (long)(p / 100.0 * (double)n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	unsigned char *buf = NULL;

	if (f == NULL || fstat(fileno(f), &st) != 0)
		goto cleanup;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL ||
	    fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
		goto cleanup;
	}
	*len = (size_t)st.st_size;
cleanup:
	if (f)
		fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	struct run run;
	struct worker *w = NULL;
	const char *body_path = NULL;
	unsigned char *body = NULL;
	double t0, secs;
	int ch, i, rc = 1;

	memset(&run, 0, sizeof(run));
	run.method = "POST";
	run.conc = 1;
	run.total = 100;
	run.marker = -1;
	while ((ch = getopt(argc, argv, "p:u:b:t:c:n:m:H:")) != -1) {
		switch (ch) {
		case 'p':
			run.port = atoi(optarg);
			break;
		case 'u':
			run.path = optarg;
			break;
		case 'b':
			body_path = optarg;
			break;
		case 't':
			run.ctype = optarg;
			break;
		case 'c':
			run.conc = atoi(optarg);
			break;
		case 'n':
			run.total = atol(optarg);
			break;
		case 'm':
			run.method = optarg;
			break;
		case 'H':
			if (run.nheaders < MAX_HEADERS)
				run.headers[run.nheaders++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (run.port <= 0 || run.path == NULL || *run.path == '\0' ||
	    body_path == NULL || run.ctype == NULL || run.conc <= 0 ||
	    run.total <= 0)
		goto usage;
	body = slurp(body_path, &run.body_len);
	if (body == NULL) {
		perror(body_path);
		return 1;
	}
	run.body = body;
	for (size_t k = 0; k + MARKER_LEN <= run.body_len; k++) {
		if (memcmp(body + k, MARKER, MARKER_LEN) == 0) {
			run.marker = (long)k;
			break;
		}
	}
	run.run_id = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	run.lat_ms = calloc((size_t)run.total, sizeof(double));
	w = calloc((size_t)run.conc, sizeof(*w));
	if (run.lat_ms == NULL || w == NULL)
		goto cleanup;

	t0 = now_s();
	for (i = 0; i < run.conc; i++) {
		w[i].run = &run;
		w[i].id = i;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0)
			goto cleanup;
	}
	for (i = 0; i < run.conc; i++)
		pthread_join(w[i].thread, NULL);
	secs = now_s() - t0;

	qsort(run.lat_ms, (size_t)run.total, sizeof(double), cmp_double);
	printf("{\"requests\": %ld, \"errors\": %ld, \"first_error\": %d, "
	       "\"seconds\": %.4f, \"rps\": %.2f, \"p50_ms\": %.3f, "
	       "\"p99_ms\": %.3f}\n",
	       run.total, atomic_load(&run.errors),
	       atomic_load(&run.first_error), secs,
	       (double)run.total / secs, percentile(run.lat_ms, run.total, 50),
	       percentile(run.lat_ms, run.total, 99));
	rc = atomic_load(&run.errors) ? 2 : 0;
cleanup:
	free(w);
	free(run.lat_ms);
	free(body);
	return rc;
usage:
	fprintf(stderr, "usage: loadgen -p PORT -u PATH -b BODY -t CTYPE "
	        "[-c CONC] [-n TOTAL] [-m METHOD] [-H HEADER]...\n");
	return 64;
}
