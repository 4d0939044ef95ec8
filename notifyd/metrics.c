/*
 * metrics.c - Prometheus text exposition on [notifyd] metrics_listen
 * (127.0.0.1:PORT): a tiny HTTP/1.0 server inside the event loop.  Its
 * sockets are extra descriptors of curl_multi_poll, so it needs no
 * thread; it serves GET /metrics and closes each connection after the
 * answer.  At most ND_METRICS_CONNS clients at once; a client that sends
 * nothing for 5 s is dropped.
 *
 * Metrics (channel = the [channel.NAME] name):
 *   gatehouse_notifyd_delivered_total{channel}     deliveries that succeeded
 *   gatehouse_notifyd_failed_total{channel}        attempts that failed
 *   gatehouse_notifyd_retried_total{channel}       failed attempts to be retried
 *   gatehouse_notifyd_dead_lettered_total{channel} deliveries given up
 *   gatehouse_notifyd_deferred_total{channel,reason} quiet_hours, breaker,
 *                                                  rate_limit
 *   gatehouse_notifyd_expired_total{channel}       deliveries whose event
 *                                                  expired first
 *   gatehouse_notifyd_breaker_state{channel}       0 closed, 1 open,
 *                                                  2 half-open
 *   gatehouse_notifyd_breaker_opened_total{channel}
 *   gatehouse_notifyd_inflight_requests{channel}
 *   gatehouse_notifyd_events_total{outcome}        leased, acked, retried,
 *                                                  deferred, dead, expired,
 *                                                  released
 *   gatehouse_queue_events{state}                  ready, leased, done,
 *                                                  dead, expired
 *   gatehouse_queue_due_events                     due now
 *   gatehouse_queue_oldest_due_age_seconds
 *   gatehouse_queue_stats_age_seconds              how old the three above
 *                                                  are (see queue_stats)
 *   gatehouse_queue_stats_duration_seconds         how long counting took
 *   gatehouse_notifyd_store_errors_total, gatehouse_notifyd_leases_lost_total
 *   gatehouse_store_bytes{store="core"}            bytes the records take
 *                                                  (the file's used pages
 *                                                  less LMDB's free list)
 *   gatehouse_store_map_max_bytes{store="core"}    [store] map_max
 *   gatehouse_store_purge_runs_total               retention passes done
 *   gatehouse_store_purged_records_total{db}       records they deleted
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvsync.h"
#include "natsin.h"
#include "nd.h"

#define CONN_IDLE_MS 5000
#define QSTATS_COST_FACTOR 20   /* a count is reused at least this many
                                   times as long as it took */

struct text {
	char *p;
	size_t len, cap;
	int oom;
};

__attribute__((format(printf, 2, 3)))
static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = 1;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
			char *p = realloc(t->p, cap);

			if (p == NULL) {
				t->oom = 1;
				return;
			}
			t->p = p;
			t->cap = cap;
		}
	}
}

static void
head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The queue's figures for a scrape.  gh_queue_stats walks the whole queue
 * index and every state record: O(queue), in a read transaction on the
 * daemon's only thread, during which nothing is started, collected or
 * recorded.  Counting on every scrape would let a big backlog, or an eager
 * scraper, slow down the very dispatching being measured.  So a count is
 * reused for [notifyd] metrics_queue_interval, and for at least
 * QSTATS_COST_FACTOR times as long as it took: however big the queue and
 * however often the scrapes, counting takes at most about
 * 1/QSTATS_COST_FACTOR of the loop's time.  Counts kept current in the
 * store would make the figures cheap, but would cost every enqueue of every
 * producer a write to one more database (queue.c keeps enqueue to two).
 * The figures say how old they are.  NULL when the store could not be
 * read.
 */
static const struct gh_queue_stats *
queue_stats(struct nd *d)
{
	int64_t reuse = d->rt->qstats_ms, start;
	gh_err err;

	if (reuse < QSTATS_COST_FACTOR * d->qstats_took)
		reuse = QSTATS_COST_FACTOR * d->qstats_took;
	if (d->qstats_tried && d->tick - d->qstats_at < reuse)
		return d->qstats_ok ? &d->qstats : NULL;
	start = nd_clock_tick();
	err = gh_queue_stats(d->st, d->now, &d->qstats);
	d->qstats_took = nd_clock_tick() - start;
	d->qstats_at = d->tick;
	d->qstats_tried = 1;
	d->qstats_ok = err == GH_OK;
	if (err)
		nd_log(&d->log, ND_LOG_WARN, "cannot count the queue for "
		       "/metrics: %s", gh_strerror(err));
	return d->qstats_ok ? &d->qstats : NULL;
}

#define PER_CHANNEL(t, d, field, metric) \
	for (struct nd_cstate *c_ = (d)->cstates; c_; c_ = c_->next) \
		put(t, "%s{channel=\"%s\"} %llu\n", metric, c_->name, \
		    (unsigned long long)c_->field)

char *
nd_metrics_text(struct nd *d, size_t *len)
{
	static const char *const states[] = {"ready", "leased", "done", "dead",
	                                     "expired"};
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{"gatehouse_notifyd_delivered_total", "Deliveries that succeeded.",
		 offsetof(struct nd_cstate, delivered)},
		{"gatehouse_notifyd_failed_total", "Delivery attempts that failed.",
		 offsetof(struct nd_cstate, failed)},
		{"gatehouse_notifyd_retried_total",
		 "Failed attempts that will be tried again.",
		 offsetof(struct nd_cstate, retried)},
		{"gatehouse_notifyd_dead_lettered_total",
		 "Deliveries given up (permanent answer or too many attempts).",
		 offsetof(struct nd_cstate, dead)},
		{"gatehouse_notifyd_expired_total",
		 "Deliveries dropped because their event expired.",
		 offsetof(struct nd_cstate, expired)},
	};
	const struct gh_queue_stats *qs;
	struct gh_store_info si;
	struct text t = {NULL, 0, 0, 0};

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		head(&t, counters[i].name, "counter", counters[i].help);
		for (struct nd_cstate *c = d->cstates; c; c = c->next)
			put(&t, "%s{channel=\"%s\"} %llu\n", counters[i].name,
			    c->name, (unsigned long long)*(const uint64_t *)
			    ((const char *)c + counters[i].off));
	}
	head(&t, "gatehouse_notifyd_deferred_total", "counter",
	     "Deliveries held back without an attempt.");
	for (struct nd_cstate *c = d->cstates; c; c = c->next) {
		put(&t, "gatehouse_notifyd_deferred_total{channel=\"%s\",reason="
		    "\"quiet_hours\"} %llu\n", c->name,
		    (unsigned long long)c->deferred_quiet);
		put(&t, "gatehouse_notifyd_deferred_total{channel=\"%s\",reason="
		    "\"breaker\"} %llu\n", c->name,
		    (unsigned long long)c->deferred_breaker);
		put(&t, "gatehouse_notifyd_deferred_total{channel=\"%s\",reason="
		    "\"rate_limit\"} %llu\n", c->name,
		    (unsigned long long)c->deferred_rate);
	}
	head(&t, "gatehouse_notifyd_breaker_state", "gauge",
	     "Circuit breaker: 0 closed, 1 open, 2 half-open.");
	PER_CHANNEL(&t, d, breaker.state, "gatehouse_notifyd_breaker_state");
	head(&t, "gatehouse_notifyd_breaker_opened_total", "counter",
	     "Times the circuit breaker opened.");
	PER_CHANNEL(&t, d, breaker.opened_count,
	            "gatehouse_notifyd_breaker_opened_total");
	head(&t, "gatehouse_notifyd_inflight_requests", "gauge",
	     "Requests in flight.");
	PER_CHANNEL(&t, d, inflight, "gatehouse_notifyd_inflight_requests");
	head(&t, "gatehouse_notifyd_events_total", "counter",
	     "Events by what the dispatcher did with them.");
	put(&t, "gatehouse_notifyd_events_total{outcome=\"leased\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"acked\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"retried\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"deferred\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"dead\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"expired\"} %llu\n"
	    "gatehouse_notifyd_events_total{outcome=\"released\"} %llu\n",
	    (unsigned long long)d->leased, (unsigned long long)d->acked,
	    (unsigned long long)d->retried_events,
	    (unsigned long long)d->deferred_events,
	    (unsigned long long)d->dead_events,
	    (unsigned long long)d->expired_events,
	    (unsigned long long)d->released);
	head(&t, "gatehouse_notifyd_store_errors_total", "counter",
	     "Store operations that failed.");
	put(&t, "gatehouse_notifyd_store_errors_total %llu\n",
	    (unsigned long long)d->store_errors);
	head(&t, "gatehouse_notifyd_leases_lost_total", "counter",
	     "Leases that ran out before the event was settled.");
	put(&t, "gatehouse_notifyd_leases_lost_total %llu\n",
	    (unsigned long long)d->lease_lost);
	if (gh_store_info(d->st, &si) == GH_OK) {
		head(&t, "gatehouse_store_bytes", "gauge",
		     "Bytes the store's records take: pages in use less LMDB's "
		     "free list (the file itself never shrinks).");
		put(&t, "gatehouse_store_bytes{store=\"core\"} %zu\n",
		    si.in_use);
		head(&t, "gatehouse_store_map_max_bytes", "gauge",
		     "The most the store may grow to ([store] map_max); at it "
		     "every write fails.");
		put(&t, "gatehouse_store_map_max_bytes{store=\"core\"} %zu\n",
		    si.map_max);
	}
	head(&t, "gatehouse_store_purge_runs_total", "counter",
	     "Retention passes over the store finished.");
	put(&t, "gatehouse_store_purge_runs_total %llu\n",
	    (unsigned long long)d->purge_runs);
	head(&t, "gatehouse_store_purged_records_total", "counter",
	     "Records deleted by retention, by database.");
	for (int i = 0; i < GH_DB_COUNT_; i++)
		if (d->purged[i] > 0)
			put(&t, "gatehouse_store_purged_records_total{db=\"%s\"} "
			    "%llu\n", gh_db_name((enum gh_db)i),
			    (unsigned long long)d->purged[i]);
	qs = queue_stats(d);
	if (qs) {
		head(&t, "gatehouse_queue_events", "gauge",
		     "Events in the queue by state.");
		for (int i = 0; i < 5; i++)
			put(&t, "gatehouse_queue_events{state=\"%s\"} %zu\n",
			    states[i], qs->count[i]);
		head(&t, "gatehouse_queue_due_events", "gauge",
		     "Events due now and not leased.");
		put(&t, "gatehouse_queue_due_events %zu\n", qs->due);
		head(&t, "gatehouse_queue_oldest_due_age_seconds", "gauge",
		     "How long the oldest due event has waited.");
		put(&t, "gatehouse_queue_oldest_due_age_seconds %.3f\n",
		    (double)qs->oldest_due_ms / 1000.0);
		head(&t, "gatehouse_queue_stats_age_seconds", "gauge",
		     "How old the gatehouse_queue figures are: a count of the "
		     "queue is reused (metrics_queue_interval).");
		put(&t, "gatehouse_queue_stats_age_seconds %.3f\n",
		    (double)(d->tick - d->qstats_at) / 1000.0);
		head(&t, "gatehouse_queue_stats_duration_seconds", "gauge",
		     "How long the last count of the queue took.");
		put(&t, "gatehouse_queue_stats_duration_seconds %.3f\n",
		    (double)d->qstats_took / 1000.0);
	}
	if (d->natsin != NULL) {
		/* the multi-host mode's figures (natsin.c) */
		char *c = nd_natsin_metrics(d->natsin);

		if (c == NULL)
			t.oom = 1;
		else
			put(&t, "%s", c);
		free(c);
	}
	if (d->kvsync != NULL) {
		/* shared data (kvsync.c) */
		char *c = nd_kvsync_metrics(d->kvsync);

		if (c == NULL)
			t.oom = 1;
		else
			put(&t, "%s", c);
		free(c);
	}
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}

/* ---- the server ---- */

gh_err
nd_metrics_listen(struct nd *d, const char *addr, char *detail, size_t dlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64];
	const char *port;
	long p;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (end == NULL || end[1] != ':' || (size_t)(end - addr) >= sizeof(host))
			goto bad;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
		port = end + 2;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		sl = sizeof(*s6);
	} else {
		const char *colon = strrchr(addr, ':');
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
			goto bad;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = colon + 1;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		sl = sizeof(*s4);
	}
	{
		char *end;

		p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
			goto bad;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(detail, dlen, "metrics_listen %s: %s", addr,
		         strerror(errno));
		return GH_EIO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
		snprintf(detail, dlen, "metrics_listen %s: %s", addr,
		         strerror(errno));
		close(fd);
		return GH_EIO;
	}
	d->listen_fd = fd;
	snprintf(d->listen_addr, sizeof(d->listen_addr), "%s", addr);
	return GH_OK;
bad:
	snprintf(detail, dlen, "metrics_listen: '%s' is not ADDRESS:PORT "
	         "(127.0.0.1:9464 or [::1]:9464)", addr);
	return GH_ECONFIG;
}

static void
conn_close(struct nd_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
nd_metrics_close(struct nd *d)
{
	for (int i = 0; i < ND_METRICS_CONNS; i++)
		if (d->conns[i].fd > 0)
			conn_close(&d->conns[i]);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	d->listen_fd = -1;
}

unsigned
nd_metrics_fds(struct nd *d, struct curl_waitfd *fds, unsigned max)
{
	unsigned n = 0;

	if (d->listen_fd < 0 || max == 0)
		return 0;
	fds[n].fd = d->listen_fd;
	fds[n].events = CURL_WAIT_POLLIN;
	fds[n++].revents = 0;
	for (int i = 0; i < ND_METRICS_CONNS && n < max; i++) {
		struct nd_conn *c = &d->conns[i];

		if (c->fd <= 0)
			continue;
		fds[n].fd = c->fd;
		fds[n].events = c->out ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN;
		fds[n++].revents = 0;
	}
	return n;
}

static void
respond(struct nd *d, struct nd_conn *c)
{
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4";
	char *body = NULL, hdr[256];
	size_t blen = 0;
	int hl;

	if (strncmp(c->in, "GET /metrics ", 13) == 0 ||
	    strncmp(c->in, "GET /metrics?", 13) == 0) {
		body = nd_metrics_text(d, &blen);
		if (body == NULL)
			status = "500 Internal Server Error";
	} else if (strncmp(c->in, "GET ", 4) == 0) {
		status = "404 Not Found";
	} else {
		status = "405 Method Not Allowed";
	}
	if (body == NULL) {
		body = strdup("see /metrics\n");
		blen = body ? strlen(body) : 0;
		ctype = "text/plain";
	}
	hl = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	              "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	              ctype, blen);
	c->out = malloc((size_t)hl + blen);
	if (c->out == NULL) {
		free(body);
		conn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)hl);
	if (body)
		memcpy(c->out + hl, body, blen);
	c->outlen = (size_t)hl + blen;
	c->outoff = 0;
	free(body);
}

static void
conn_io(struct nd *d, struct nd_conn *c, int revents)
{
	ssize_t n;

	if (c->out == NULL && (revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI))) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n") ||
		    c->inlen == sizeof(c->in) - 1)
			respond(d, c);
		return;
	}
	if (c->out && (revents & CURL_WAIT_POLLOUT)) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		         MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		c->outoff += (size_t)n;
		if (c->outoff == c->outlen)
			conn_close(c);
	}
}

void
nd_metrics_io(struct nd *d, const struct curl_waitfd *fds, unsigned n)
{
	int64_t real = gh_now_ms();

	for (unsigned i = 0; i < n; i++) {
		if (fds[i].fd == d->listen_fd) {
			if (fds[i].revents & CURL_WAIT_POLLIN) {
				int fd = accept4(d->listen_fd, NULL, NULL,
				                 SOCK_NONBLOCK | SOCK_CLOEXEC);
				int slot = -1;

				for (int k = 0; fd >= 0 && k < ND_METRICS_CONNS; k++)
					if (d->conns[k].fd <= 0) {
						slot = k;
						break;
					}
				if (fd >= 0 && slot < 0) {
					close(fd);   /* too many clients */
				} else if (fd >= 0) {
					memset(&d->conns[slot], 0, sizeof(d->conns[slot]));
					d->conns[slot].fd = fd;
					d->conns[slot].since = real;
				}
			}
			continue;
		}
		for (int k = 0; k < ND_METRICS_CONNS; k++)
			if (d->conns[k].fd == fds[i].fd && fds[i].revents)
				conn_io(d, &d->conns[k], fds[i].revents);
	}
	for (int k = 0; k < ND_METRICS_CONNS; k++)
		if (d->conns[k].fd > 0 && real - d->conns[k].since > CONN_IDLE_MS)
			conn_close(&d->conns[k]);
}
