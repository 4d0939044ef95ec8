/*
 * options.c - parse pam_gatehouse's module arguments.
 *
 * Parsing never fails the module: PAM lines are edited by hand and a typo
 * must not lock anyone out, so a bad argument is reported (the caller logs
 * it) and its default kept, the way pam_unix treats unknown options.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/conf.h"
#include "options.h"

void
gp_opts_init(struct gp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->type = GH_PAM_TYPE_DEFAULT;
	o->admin = GH_PAM_ADMIN_DEFAULT;
	o->writer = GH_PAM_WRITER_DEFAULT;
	o->notify = GH_PAM_NOTIFY_NEW_HOST;
	o->mode = GH_PAM_MODE_DETACH;
	o->timeout_ms = GH_PAM_TIMEOUT_DEFAULT;
	o->writer_timeout_ms = GH_PAM_WRITER_TIMEOUT_DEFAULT;
	o->burst_n = GH_PAM_BURST_N_DEFAULT;
	o->burst_window_ms = GH_PAM_BURST_WINDOW_DEFAULT;
	o->v4_prefix = 24;
	o->v6_prefix = 64;
}

int
gp_type_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A whole decimal number in [min, max]; no sign, no suffix. */
static int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* "N/WINDOW": N failures within WINDOW (a duration: 300, 300s, 5m);
 * "off" or "0" turns counting off. */
static int
parse_burst(const char *s, struct gp_opts *o)
{
	char num[16];
	const char *slash;
	long long win;
	size_t n;
	int count;

	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		o->burst_n = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if (slash == NULL)
		return -1;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_int(num, 1, GH_PAM_BURST_N_MAX, &count) != 0)
		return -1;
	if (gh_parse_duration_ms(slash + 1, &win) != GH_OK || win < 1000 ||
	    win > GH_PAM_BURST_WINDOW_MAX)
		return -1;
	o->burst_n = count;
	o->burst_window_ms = win;
	return 0;
}

__attribute__((format(printf, 3, 4)))
static void
note(char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (detail == NULL || len == 0 || detail[0] != '\0')
		return;     /* keep the first problem only */
	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
}

/* Value of "name=value" when arg starts with prefix "name=", else NULL. */
static const char *
value_of(const char *arg, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

static int
apply(struct gp_opts *o, const char *a)
{
	const char *v;
	int b;

	if (strcmp(a, "debug") == 0) {
		o->debug = 1;
	} else if (strcmp(a, "fail") == 0) {
		o->fail = 1;
	} else if (strcmp(a, "fail_closed") == 0) {
		o->fail_closed = 1;
	} else if ((v = value_of(a, "store=")) != NULL) {
		if (v[0] != '/')
			return -1;
		o->store = v;
	} else if ((v = value_of(a, "config=")) != NULL) {
		if (v[0] != '/')
			return -1;
		o->config = v;
	} else if ((v = value_of(a, "notify=")) != NULL) {
		if (strcmp(v, "always") == 0)
			o->notify = GH_PAM_NOTIFY_ALWAYS;
		else if (strcmp(v, "new_host") == 0)
			o->notify = GH_PAM_NOTIFY_NEW_HOST;
		else if (strcmp(v, "never") == 0)
			o->notify = GH_PAM_NOTIFY_NEVER;
		else
			return -1;
	} else if ((v = value_of(a, "mode=")) != NULL) {
		if (strcmp(v, "detach") == 0)
			o->mode = GH_PAM_MODE_DETACH;
		else if (strcmp(v, "child") == 0)
			o->mode = GH_PAM_MODE_CHILD;
		else if (strcmp(v, "inline") == 0)
			o->mode = GH_PAM_MODE_INLINE;
		else
			return -1;
	} else if ((v = value_of(a, "writer=")) != NULL) {
		if (v[0] != '/' || strlen(v) >= PATH_MAX)
			return -1;
		o->writer = v;
	} else if ((v = value_of(a, "type=")) != NULL) {
		if (!gp_type_ok(v))
			return -1;
		o->type = v;
	} else if ((v = value_of(a, "admin=")) != NULL) {
		if (v[0] == '\0' || strlen(v) > 256)
			return -1;
		o->admin = v;
	} else if ((v = value_of(a, "timeout_ms=")) != NULL) {
		return parse_int(v, 1, GH_PAM_TIMEOUT_MAX, &o->timeout_ms);
	} else if ((v = value_of(a, "writer_timeout_ms=")) != NULL) {
		return parse_int(v, 1, GH_PAM_WRITER_TIMEOUT_MAX,
		                 &o->writer_timeout_ms);
	} else if ((v = value_of(a, "fail_burst=")) != NULL) {
		return parse_burst(v, o);
	} else if ((v = value_of(a, "v4_prefix=")) != NULL) {
		return parse_int(v, 0, 32, &o->v4_prefix);
	} else if ((v = value_of(a, "v6_prefix=")) != NULL) {
		return parse_int(v, 0, 128, &o->v6_prefix);
	} else if ((v = value_of(a, "alert_first=")) != NULL) {
		if (gh_parse_bool(v, &b) != GH_OK)
			return -1;
		o->alert_first = b;
	} else {
		return -2;
	}
	return 0;
}

int
gp_opts_parse(struct gp_opts *o, int argc, const char **argv,
                  char *detail, size_t detail_len)
{
	int bad = 0;

	if (detail != NULL && detail_len > 0)
		detail[0] = '\0';
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int rc;

		if (a == NULL)
			continue;
		rc = apply(o, a);
		if (rc == 0)
			continue;
		bad++;
		note(detail, detail_len, "%s option '%.100s' ignored",
		     rc == -2 ? "unknown" : "invalid", a);
	}
	return bad;
}
