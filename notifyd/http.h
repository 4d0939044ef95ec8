/*
 * http.h - what every HTTP channel does the same way with libcurl
 *
 * nd_http_setup prepares a request on r->easy (a handle from the
 * dispatcher's pool, freshly reset): URL, method, body, Content-Type,
 * timeouts and TLS settings from the channel, "User-Agent:
 * gatehouse-notifyd", the Idempotency-Key header, capture of the first
 * bytes of the response (for error messages) and of Retry-After.  No
 * redirects are followed: a webhook that moved must be reconfigured, not
 * chased.  nd_http_outcome then classifies the finished request with
 * nd_http_classify (backoff.h) and writes a short reason ("HTTP 503:
 * <first line of the body>", "curl: Couldn't connect to server").
 *
 * nd_http_guard makes a prepared request connect only to public addresses
 * (netaddr.h), checked on the address libcurl resolved and is about to
 * connect to, and again on the peer of a reused connection; no proxy is
 * used.  A refused address fails the transfer, and nd_http_outcome makes
 * that a permanent failure "endpoint refused: 10.0.0.5 is not a public
 * address (private)".
 *
 * nd_req_reset frees what a request holds (headers, body, URL) and keeps
 * the easy handle, whose connections libcurl's multi handle reuses.
 */
#ifndef GH_NOTIFYD_HTTP_H
#define GH_NOTIFYD_HTTP_H

#include "channel.h"

/* Sets the options every request needs, HTTP or not. */
void nd_req_common(struct nd_chan *ch, struct nd_req *r);

/* body (malloc'd or NULL) is owned by r from here, even on failure. */
gh_err nd_http_setup(struct nd_chan *ch, struct nd_req *r, const char *url,
                     const char *method, const char *content_type,
                     char *body, size_t blen, const char *idem_key);

/* nd_http_guard - after nd_http_setup: public addresses only (above). */
void nd_http_guard(struct nd_req *r);

/* nd_req_header - add one "Name: value" header line. */
__attribute__((format(printf, 2, 3)))
gh_err nd_req_header(struct nd_req *r, const char *fmt, ...);

/* nd_http_json - nd_http_setup with a compact JSON body of payload. */
gh_err nd_http_json(struct nd_chan *ch, struct nd_req *r, const char *url,
                    const json_t *payload, const char *idem_key);

enum nd_outcome nd_http_outcome(struct nd_req *r, char *err, size_t elen);
/* nd_http_done - the done of a kind that needs nothing but that. */
enum nd_outcome nd_http_done(struct nd_chan *ch, struct nd_req *r, char *err,
                             size_t elen);

/* nd_req_reset - free what r holds except the easy handle. */
void nd_req_reset(struct nd_req *r);

#endif
