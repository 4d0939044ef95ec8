/*
 * backoff.c - retry delays with full jitter, Retry-After and HTTP-date
 * parsing, classification of HTTP and SMTP results (see backoff.h).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "backoff.h"
#include "civil.h"

uint64_t
nd_rng_os(void *arg)
{
	uint64_t v = 0;
	size_t got = 0;

	(void)arg;
	while (got < sizeof v) {
		ssize_t n = getrandom((unsigned char *)&v + got, sizeof v - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* getrandom on 8 bytes does not fail once the pool is
			 * initialised; jitter is not a secret, so degrade. */
			return (uint64_t)(uintptr_t)&v * 0x9e3779b97f4a7c15ULL;
		}
		got += (size_t)n;
	}
	return v;
}

uint64_t
nd_rng_below(nd_rng_fn rng, void *arg, uint64_t n)
{
	uint64_t limit, v;

	if (n <= 1)
		return 0;
	/* Reject the top partial interval so every residue is equally likely. */
	limit = UINT64_MAX - UINT64_MAX % n;
	do
		v = rng(arg);
	while (v >= limit);
	return v % n;
}

int64_t
nd_backoff_delay(const struct nd_backoff *b, int failures,
                 int64_t retry_after_ms, nd_rng_fn rng, void *arg)
{
	int64_t ceiling = b->base_ms > 0 ? b->base_ms : 1;
	int64_t cap = b->cap_ms > ceiling ? b->cap_ms : ceiling;
	int64_t delay;
	int i;

	for (i = 1; i < failures && ceiling < cap; i++)
		ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
	if (ceiling > cap)
		ceiling = cap;
	delay = (int64_t)nd_rng_below(rng, arg, (uint64_t)ceiling + 1);
	if (retry_after_ms >= 0) {
		if (b->retry_after_max >= 0 && retry_after_ms > b->retry_after_max)
			retry_after_ms = b->retry_after_max;
		if (delay < retry_after_ms)
			delay = retry_after_ms;
	}
	return delay;
}

/* ---- HTTP-date ---- */

static const char *
skip_sp(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* digits - exactly n digits (n > 0), or with n < 0 one to -n digits. */
static const char *
digits(const char *p, int n, int *out)
{
	int v = 0, k = 0, max = n < 0 ? -n : n;

	while (k < max && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		p++;
		k++;
	}
	if (k == 0 || (n > 0 && k != n) || (*p >= '0' && *p <= '9'))
		return NULL;
	*out = v;
	return p;
}

static const char *
month(const char *p, int *mon)
{
	int m;

	for (m = 1; m <= 12; m++) {
		if (strncmp(p, nd_month_abbr(m), 3) == 0) {
			*mon = m;
			return p + 3;
		}
	}
	return NULL;
}

/* hms - "HH:MM:SS". */
static const char *
hms(const char *p, int *h, int *m, int *s)
{
	if ((p = digits(p, 2, h)) == NULL || *p++ != ':' ||
	    (p = digits(p, 2, m)) == NULL || *p++ != ':' ||
	    (p = digits(p, 2, s)) == NULL)
		return NULL;
	return p;
}

/* weekday - a day name, abbreviated (3 letters) or full; its length. */
static size_t
weekday_len(const char *p)
{
	static const char *const full[7] = {
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
		"Saturday"
	};
	int i;

	for (i = 0; i < 7; i++) {
		size_t n = strlen(full[i]);
		if (strncmp(p, full[i], n) == 0)
			return n;
		if (strncmp(p, full[i], 3) == 0)
			return 3;
	}
	return 0;
}

gh_err
nd_http_date_parse(const char *s, int64_t now_s, int64_t *out)
{
	struct nd_civil c;
	const char *p;
	size_t wl;
	int d = 0, mon = 0, y = 0, h = 0, mi = 0, se = 0;

	if (s == NULL)
		return GH_EINVAL;
	p = skip_sp(s);
	wl = weekday_len(p);
	if (wl == 0)
		return GH_EINVAL;
	p += wl;
	if (*p == ',' && p[1] == ' ' && wl == 3) {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		p += 2;
		if ((p = digits(p, 2, &d)) == NULL || *p++ != ' ' ||
		    (p = month(p, &mon)) == NULL || *p++ != ' ' ||
		    (p = digits(p, 4, &y)) == NULL || *p++ != ' ' ||
		    (p = hms(p, &h, &mi, &se)) == NULL || strncmp(p, " GMT", 4) != 0)
			return GH_EINVAL;
		p += 4;
	} else if (*p == ',' && p[1] == ' ') {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		struct nd_civil nc;
		int yy = 0;

		p += 2;
		if ((p = digits(p, 2, &d)) == NULL || *p++ != '-' ||
		    (p = month(p, &mon)) == NULL || *p++ != '-' ||
		    (p = digits(p, 2, &yy)) == NULL || *p++ != ' ' ||
		    (p = hms(p, &h, &mi, &se)) == NULL || strncmp(p, " GMT", 4) != 0)
			return GH_EINVAL;
		p += 4;
		nd_civil_from_secs(now_s, &nc);
		y = (int)(nc.year - nc.year % 100) + yy;
		if (y > nc.year + 50)
			y -= 100;
	} else if (*p == ' ' && wl == 3) {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		p++;
		if ((p = month(p, &mon)) == NULL || *p++ != ' ')
			return GH_EINVAL;
		if (*p == ' ')
			p++;
		if ((p = digits(p, -2, &d)) == NULL || *p++ != ' ' ||
		    (p = hms(p, &h, &mi, &se)) == NULL || *p++ != ' ' ||
		    (p = digits(p, 4, &y)) == NULL)
			return GH_EINVAL;
	} else {
		return GH_EINVAL;
	}
	if (*skip_sp(p) != '\0')
		return GH_EINVAL;
	/* 60 seconds allows a leap second, which POSIX time folds onward. */
	if (d < 1 || d > nd_month_days(y, mon) || h > 23 || mi > 59 || se > 60)
		return GH_EINVAL;
	memset(&c, 0, sizeof c);
	c.year = y;
	c.mon = mon;
	c.mday = d;
	c.hour = h;
	c.min = mi;
	c.sec = se;
	*out = nd_secs_from_civil(&c);
	return GH_OK;
}

gh_err
nd_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms)
{
	const char *p, *q;
	int64_t secs = 0, when;
	gh_err err;

	if (value == NULL)
		return GH_EINVAL;
	p = skip_sp(value);
	if (*p >= '0' && *p <= '9') {
		for (q = p; *q >= '0' && *q <= '9'; q++) {
			/* Anything past ~68 years is the same as "very long". */
			if (secs < INT32_MAX)
				secs = secs * 10 + (*q - '0');
		}
		if (*skip_sp(q) != '\0')
			return GH_EINVAL;
		if (secs > INT32_MAX)
			secs = INT32_MAX;
		*delay_ms = secs * 1000;
		return GH_OK;
	}
	err = nd_http_date_parse(p, now_ms / 1000, &when);
	if (err)
		return err;
	*delay_ms = when * 1000 > now_ms ? when * 1000 - now_ms : 0;
	return GH_OK;
}

enum nd_outcome
nd_http_classify(long status)
{
	if (status >= 200 && status <= 299)
		return GH_OUTCOME_OK;
	if (status == 0 || status == 408 || status == 425 || status == 429 ||
	    (status >= 500 && status <= 599))
		return GH_OUTCOME_RETRY;
	return GH_OUTCOME_PERMANENT;
}

enum nd_outcome
nd_smtp_classify(long code)
{
	if (code >= 200 && code <= 299)
		return GH_OUTCOME_OK;
	if (code >= 500 && code <= 599)
		return GH_OUTCOME_PERMANENT;
	return GH_OUTCOME_RETRY;
}

const char *
nd_outcome_name(enum nd_outcome o)
{
	switch (o) {
	case GH_OUTCOME_OK:
		return "ok";
	case GH_OUTCOME_RETRY:
		return "retry";
	case GH_OUTCOME_PERMANENT:
		return "permanent";
	}
	return "unknown";
}
