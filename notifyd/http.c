/*
 * http.c - request setup and outcome classification shared by the HTTP
 * channels (see http.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http.h"
#include "core/netaddr.h"

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct nd_req *r = arg;
	size_t len = size * n, room = sizeof(r->resp) - 1 - r->rlen;

	if (room > 0) {
		size_t take = len < room ? len : room;

		memcpy(r->resp + r->rlen, p, take);
		r->rlen += take;
		r->resp[r->rlen] = '\0';
	}
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct nd_req *r = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) - 1 && len < 256 &&
	    strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char v[256];
		int64_t d;
		size_t vl = len - (sizeof(name) - 1);

		memcpy(v, p + sizeof(name) - 1, vl);
		v[vl] = '\0';
		v[strcspn(v, "\r\n")] = '\0';
		if (nd_retry_after_parse(v, r->now_ms, &d) == GH_OK)
			r->retry_after_ms = d;
	}
	return len;
}

void
nd_req_common(struct nd_chan *ch, struct nd_req *r)
{
	CURL *e = r->easy;

	r->retry_after_ms = -1;
	r->curl_err[0] = '\0';
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)ch->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ch->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ch->tls_verify ? 2L : 0L);
	if (ch->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ch->ca_file);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
}

gh_err
nd_req_header(struct nd_req *r, const char *fmt, ...)
{
	char line[2048];
	struct curl_slist *h;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return GH_ETOOBIG;
	if (strpbrk(line, "\r\n"))
		return GH_EINVAL;
	h = curl_slist_append(r->headers, line);
	if (h == NULL)
		return GH_ENOMEM;
	r->headers = h;
	return GH_OK;
}

gh_err
nd_http_setup(struct nd_chan *ch, struct nd_req *r, const char *url,
              const char *method, const char *content_type, char *body,
              size_t blen, const char *idem_key)
{
	CURL *e = r->easy;
	gh_err err;

	r->body = body;
	r->blen = blen;
	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	                    strncmp(url, "https://", 8) != 0))
		return GH_EINVAL;
	nd_req_common(ch, r);
	r->url = strdup(url);
	if (r->url == NULL)
		return GH_ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "gatehouse-notifyd");
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)blen);
	}
	if (method && strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	/* no "Expect: 100-continue" round trip for small bodies */
	err = nd_req_header(r, "Expect:");
	if (err == GH_OK && content_type)
		err = nd_req_header(r, "Content-Type: %s", content_type);
	if (err == GH_OK && idem_key)
		err = nd_req_header(r, "Idempotency-Key: %s", idem_key);
	if (err == GH_OK)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	return err;
}

/* 1 if sa may be connected to; else the reason goes to r->refused. */
static int
guard_ok(struct nd_req *r, const struct sockaddr *sa, size_t len)
{
	enum nd_addr_class c = nd_addr_classify(sa, len);
	char text[INET6_ADDRSTRLEN];

	if (c == ND_ADDR_PUBLIC)
		return 1;
	nd_addr_text(sa, len, text, sizeof(text));
	snprintf(r->refused, sizeof(r->refused), "%s is not a public address "
	         "(%s)", text, nd_addr_class_name(c));
	return 0;
}

/*
 * libcurl opens every socket through here, with the address it resolved
 * and is about to connect to: refusing it now means no packet ever leaves
 * for a non-public address, whatever the name said.
 */
static curl_socket_t
guard_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct nd_req *r = arg;

	if (purpose != CURLSOCKTYPE_IPCXN) {
		snprintf(r->refused, sizeof(r->refused), "not an outgoing "
		         "connection");
		return CURL_SOCKET_BAD;
	}
	/* a->addr is the start of a buffer of a->addrlen bytes */
	if (!guard_ok(r, &a->addr, a->addrlen))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/*
 * Called before each request is sent, on a new connection or on one the
 * multi handle reuses.  A reused connection was not opened through
 * guard_socket when another channel (a webhook an admin configured on an
 * internal host) opened it: the peer is checked again here.
 */
static int
guard_prereq(void *arg, char *peer, char *local, int peer_port,
             int local_port)
{
	struct nd_req *r = arg;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	(void)local;
	(void)peer_port;
	(void)local_port;
	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (peer && inet_pton(AF_INET, peer, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		if (guard_ok(r, (const struct sockaddr *)&in4, sizeof(in4)))
			return CURL_PREREQFUNC_OK;
	} else if (peer && inet_pton(AF_INET6, peer, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		if (guard_ok(r, (const struct sockaddr *)&in6, sizeof(in6)))
			return CURL_PREREQFUNC_OK;
	} else {
		snprintf(r->refused, sizeof(r->refused), "the peer address "
		         "'%.64s' is not an IP address", peer ? peer : "");
	}
	return CURL_PREREQFUNC_ABORT;
}

void
nd_http_guard(struct nd_req *r)
{
	CURL *e = r->easy;

	r->refused[0] = '\0';
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, guard_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, guard_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, r);
	/* through a proxy the check would see the proxy's address, and the
	 * proxy would reach whatever the URL names: connect directly */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	/* every hop of a redirect would be checked too, but none is taken */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
}

gh_err
nd_http_json(struct nd_chan *ch, struct nd_req *r, const char *url,
             const json_t *payload, const char *idem_key)
{
	char *body = json_dumps(payload, JSON_COMPACT);

	if (body == NULL)
		return GH_ENOMEM;
	return nd_http_setup(ch, r, url, "POST", "application/json", body,
	                     strlen(body), idem_key);
}

/* The first line of the response body, printable, for error messages. */
static void
resp_line(const struct nd_req *r, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < r->rlen && n + 1 < cap && n < 160; i++) {
		unsigned char c = (unsigned char)r->resp[i];

		if (c == '\r' || c == '\n')
			break;
		/* ASCII only: the text ends up in JSON records and logs */
		out[n++] = (c < 0x20 || c >= 0x7f) ? (c >= 0x80 ? '?' : ' ') :
		           (char)c;
	}
	out[n] = '\0';
}

enum nd_outcome
nd_http_outcome(struct nd_req *r, char *err, size_t elen)
{
	char line[200];

	/* nd_http_guard refused the address: the same URL would go to the
	 * same place again, so it is not retried */
	if ((r->rc == CURLE_COULDNT_CONNECT ||
	     r->rc == CURLE_ABORTED_BY_CALLBACK) && r->refused[0]) {
		snprintf(err, elen, "endpoint refused: %s", r->refused);
		return GH_OUTCOME_PERMANENT;
	}
	if (r->rc != CURLE_OK) {
		snprintf(err, elen, "curl: %s", r->curl_err[0] ? r->curl_err :
		         curl_easy_strerror(r->rc));
		return GH_OUTCOME_RETRY;
	}
	resp_line(r, line, sizeof(line));
	if (r->status >= 200 && r->status < 300)
		snprintf(err, elen, "HTTP %ld", r->status);
	else if (line[0])
		snprintf(err, elen, "HTTP %ld: %s", r->status, line);
	else
		snprintf(err, elen, "HTTP %ld", r->status);
	return nd_http_classify(r->status);
}

enum nd_outcome
nd_http_done(struct nd_chan *ch, struct nd_req *r, char *err, size_t elen)
{
	(void)ch;
	return nd_http_outcome(r, err, elen);
}

void
nd_req_reset(struct nd_req *r)
{
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->rcpts);
	free(r->body);
	free(r->url);
	r->headers = NULL;
	r->rcpts = NULL;
	r->body = NULL;
	r->url = NULL;
	r->blen = r->sent = 0;
	r->rlen = 0;
	r->resp[0] = '\0';
	r->status = 0;
	r->rc = CURLE_OK;
	r->gone = 0;
	r->refused[0] = '\0';
	r->retry_after_ms = -1;
}
