/*
 * wire.c - the writer's record (child to writer) and answer (writer to
 * the host); wire.h has the formats.
 *
 * The writer is a program anyone may run, and whatever feeds its stdin is
 * not trusted: the record is size-bounded before it is parsed, every
 * member is required and typed, and every value is held to the bounds the
 * module holds its own options and items to.  The host reads the answer
 * line without allocating, and believes only what fits its fields.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/text.h"
#include "event.h"
#include "wire.h"

#define WIRE_VERSION 1

static const char *const notify_names[] = {"never", "new_host", "always"};

/* ---- building (in the child, before the exec) ---- */

/* s (NUL-terminated) as a JSON string into obj: -1 if it is not UTF-8. */
static int
put_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = json_stringn(s, strlen(s));

	return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

static int
put_int(json_t *obj, const char *key, long long n)
{
	return json_object_set_new(obj, key, json_integer(n));
}

static int
put_bool(json_t *obj, const char *key, int b)
{
	return json_object_set_new(obj, key, json_boolean(b));
}

gh_err
gp_wire_build(const struct gp_wire *w, char *buf, size_t cap, size_t *len,
              char *detail, size_t dlen)
{
	const struct gp_opts *o = &w->o;
	const struct gp_login *l = &w->l;
	json_t *root = json_object(), *jo = json_object(),
	       *js = json_object(), *jl = json_object();
	const char *bad = NULL;
	gh_err err = GH_OK;
	size_t n;

	*len = 0;
	if (root == NULL || jo == NULL || js == NULL || jl == NULL) {
		json_decref(jo);
		json_decref(js);
		json_decref(jl);
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (json_object_set_new(root, "opts", jo) != 0 ||
	    json_object_set_new(root, "store", js) != 0 ||
	    json_object_set_new(root, "login", jl) != 0) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (put_int(root, "v", WIRE_VERSION) ||
	    put_str(root, "job", w->what == GH_PAM_JOB_FAIL ? "fail" :
	                                                      "session") ||
	    put_str(root, "report", w->report_syslog ? "syslog" : "pipe") ||
	    put_int(root, "deadline_us", w->deadline_us) ||
	    put_int(root, "start_us", w->start_us))
		err = GH_ENOMEM;
	else if (put_str(root, "ident", w->ident))
		bad = "the host's name";
	else if (put_str(jo, "type", o->type))
		bad = "type=";
	else if (put_str(jo, "admin", o->admin))
		bad = "admin=";
	else if (put_str(js, "path", w->so.path))
		bad = "the store's path";
	else if (put_str(jl, "user", l->user) || put_str(jl, "ruser", l->ruser) ||
	         put_str(jl, "tty", l->tty) ||
	         put_str(jl, "service", l->service) ||
	         put_str(jl, "rhost", l->rhost) || put_str(jl, "addr", l->addr) ||
	         put_str(jl, "net", l->net) || put_str(jl, "host", l->host))
		bad = "a login item";
	else if (put_str(jo, "notify", notify_names[(unsigned)o->notify < 3 ?
	                                            o->notify : 1]) ||
	         put_int(jo, "burst_n", o->burst_n) ||
	         put_int(jo, "burst_window_ms", o->burst_window_ms) ||
	         put_bool(jo, "alert_first", o->alert_first) ||
	         put_bool(jo, "debug", o->debug) ||
	         put_int(jo, "writer_timeout_ms", o->writer_timeout_ms) ||
	         put_int(js, "map_size", (long long)w->so.map_size) ||
	         put_int(js, "map_max", (long long)w->so.map_max) ||
	         put_bool(js, "nosync", (w->so.flags & GH_STORE_NOSYNC) != 0) ||
	         put_int(jl, "origin", l->origin) || put_int(jl, "now", l->now))
		err = GH_ENOMEM;
	if (bad != NULL) {
		err = GH_EINVAL;
		gp_fmt(detail, dlen, "%s is not UTF-8: the writer's record "
		       "cannot carry it", bad);
		goto cleanup;
	}
	if (err)
		goto cleanup;
	n = json_dumpb(root, buf, cap, JSON_COMPACT);
	if (n == 0) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	if (n >= cap || n > GH_PAM_WIRE_MAX) {
		err = GH_ETOOBIG;
		gp_fmt(detail, dlen, "the writer's record would be %zu bytes, "
		       "more than %d", n, GH_PAM_WIRE_MAX);
		goto cleanup;
	}
	buf[n] = '\0';
	*len = n;
cleanup:
	if (err == GH_ENOMEM && detail != NULL && dlen > 0 && !detail[0])
		gp_fmt(detail, dlen, "out of memory building the writer's "
		       "record");
	json_decref(root);
	return err;
}

/* ---- parsing (in the writer) ---- */

/* The string member key of obj, with no NUL inside, shorter than cap
 * bytes, and (ctl_ok 0) no control character; NULL otherwise. */
static const char *
get_str(json_t *obj, const char *key, size_t cap, int ctl_ok)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n != strlen(s) || n >= cap)
		return NULL;
	for (size_t i = 0; !ctl_ok && i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return NULL;
	return s;
}

/* The integer member key of obj in [min, max]. */
static int
get_int(json_t *obj, const char *key, long long min, long long max,
        long long *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return *out < min || *out > max ? -1 : 0;
}

static int
get_bool(json_t *obj, const char *key, int *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* A login string into its fixed-size field. */
static int
get_field(json_t *obj, const char *key, char *field, size_t cap)
{
	const char *s = get_str(obj, key, cap, 0);

	if (s == NULL)
		return -1;
	memcpy(field, s, strlen(s) + 1);
	return 0;
}

static const char *
parse_opts(json_t *jo, struct gp_opts *o)
{
	const char *s;
	long long n;
	int b;

	gp_opts_init(o);
	s = get_str(jo, "type", 65, 0);
	if (s == NULL || !gp_type_ok(s))
		return "opts.type";
	o->type = s;
	s = get_str(jo, "admin", 257, 1);
	if (s == NULL || s[0] == '\0')
		return "opts.admin";
	o->admin = s;
	s = get_str(jo, "notify", 16, 0);
	if (s == NULL)
		return "opts.notify";
	o->notify = (enum gp_notify)-1;
	for (int i = 0; i < 3; i++)
		if (strcmp(s, notify_names[i]) == 0)
			o->notify = (enum gp_notify)i;
	if ((int)o->notify < 0)
		return "opts.notify";
	if (get_int(jo, "burst_n", 0, GH_PAM_BURST_N_MAX, &n))
		return "opts.burst_n";
	o->burst_n = (int)n;
	if (get_int(jo, "burst_window_ms", 1000, GH_PAM_BURST_WINDOW_MAX, &n))
		return "opts.burst_window_ms";
	o->burst_window_ms = n;
	if (get_bool(jo, "alert_first", &b))
		return "opts.alert_first";
	o->alert_first = b;
	if (get_bool(jo, "debug", &b))
		return "opts.debug";
	o->debug = b;
	if (get_int(jo, "writer_timeout_ms", 1, GH_PAM_WRITER_TIMEOUT_MAX, &n))
		return "opts.writer_timeout_ms";
	o->writer_timeout_ms = (int)n;
	return NULL;
}

static const char *
parse_store(json_t *js, struct gh_store_opts *so)
{
	const char *s;
	long long n;
	int b;

	memset(so, 0, sizeof(*so));
	s = get_str(js, "path", PATH_MAX, 0);
	if (s == NULL || s[0] != '/')
		return "store.path";
	so->path = s;
	if (get_int(js, "map_size", 0, LLONG_MAX, &n) ||
	    (unsigned long long)n > SIZE_MAX)
		return "store.map_size";
	so->map_size = (size_t)n;
	if (get_int(js, "map_max", 0, LLONG_MAX, &n) ||
	    (unsigned long long)n > SIZE_MAX)
		return "store.map_max";
	so->map_max = (size_t)n;
	if (get_bool(js, "nosync", &b))
		return "store.nosync";
	so->flags = b ? GH_STORE_NOSYNC : 0;   /* never CREATE, never RDONLY */
	return NULL;
}

static const char *
parse_login(json_t *jl, struct gp_login *l)
{
	long long n;

	memset(l, 0, sizeof(*l));
	if (get_field(jl, "user", l->user, sizeof(l->user)))
		return "login.user";
	if (get_field(jl, "ruser", l->ruser, sizeof(l->ruser)))
		return "login.ruser";
	if (get_field(jl, "tty", l->tty, sizeof(l->tty)))
		return "login.tty";
	if (get_field(jl, "service", l->service, sizeof(l->service)))
		return "login.service";
	if (get_field(jl, "rhost", l->rhost, sizeof(l->rhost)))
		return "login.rhost";
	if (get_field(jl, "addr", l->addr, sizeof(l->addr)))
		return "login.addr";
	if (get_field(jl, "net", l->net, sizeof(l->net)))
		return "login.net";
	if (get_field(jl, "host", l->host, sizeof(l->host)) || !l->host[0])
		return "login.host";
	if (get_int(jl, "origin", GH_PAM_ORIGIN_LOCAL, GH_PAM_ORIGIN_NAME, &n))
		return "login.origin";
	l->origin = (enum gp_origin)n;
	/* a remote login has its address and network; a local one neither */
	if ((l->origin == GH_PAM_ORIGIN_LOCAL) != (l->addr[0] == '\0') ||
	    (l->origin == GH_PAM_ORIGIN_LOCAL) != (l->net[0] == '\0'))
		return "login.origin";
	if (get_int(jl, "now", 1, INT64_MAX, &n))
		return "login.now";
	l->now = n;
	return NULL;
}

gh_err
gp_wire_parse(const char *buf, size_t len, struct gp_wire *w, json_t **root,
              char *detail, size_t dlen)
{
	json_error_t jerr;
	const char *bad = NULL, *s;
	long long n;
	json_t *r;

	*root = NULL;
	memset(w, 0, sizeof(*w));
	if (len > GH_PAM_WIRE_MAX) {
		gp_fmt(detail, dlen, "record longer than %d bytes",
		       GH_PAM_WIRE_MAX);
		return GH_ETOOBIG;
	}
	r = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL) {
		gp_fmt(detail, dlen, "record is not JSON: %.100s (byte %d)",
		       jerr.text, jerr.position);
		return GH_EINVAL;
	}
	if (!json_is_object(r) || get_int(r, "v", WIRE_VERSION, WIRE_VERSION,
	                                  &n)) {
		bad = "v";
		goto cleanup;
	}
	s = get_str(r, "job", 16, 0);
	if (s != NULL && strcmp(s, "session") == 0)
		w->what = GH_PAM_JOB_SESSION;
	else if (s != NULL && strcmp(s, "fail") == 0)
		w->what = GH_PAM_JOB_FAIL;
	else {
		bad = "job";
		goto cleanup;
	}
	s = get_str(r, "report", 16, 0);
	if (s != NULL && (strcmp(s, "syslog") == 0 || strcmp(s, "pipe") == 0))
		w->report_syslog = s[0] == 's';
	else {
		bad = "report";
		goto cleanup;
	}
	s = get_str(r, "ident", sizeof(w->ident), 0);
	if (s == NULL) {
		bad = "ident";
		goto cleanup;
	}
	memcpy(w->ident, s, strlen(s) + 1);
	if (get_int(r, "deadline_us", -1, INT64_MAX, &n)) {
		bad = "deadline_us";
		goto cleanup;
	}
	w->deadline_us = n;
	if (get_int(r, "start_us", 0, INT64_MAX, &n)) {
		bad = "start_us";
		goto cleanup;
	}
	w->start_us = n;
	bad = parse_opts(json_object_get(r, "opts"), &w->o);
	if (bad == NULL)
		bad = parse_store(json_object_get(r, "store"), &w->so);
	if (bad == NULL)
		bad = parse_login(json_object_get(r, "login"), &w->l);
cleanup:
	if (bad != NULL) {
		gp_fmt(detail, dlen, "record: %s missing or invalid", bad);
		json_decref(r);
		return GH_EINVAL;
	}
	*root = r;
	return GH_OK;
}

/* ---- the answer ---- */

size_t
gp_wire_answer(const struct gp_outcome *out, char *buf, size_t cap)
{
	size_t i, room, dn;
	int n;

	n = snprintf(buf, cap, "GHW1 %s %d %u %" PRIu64 " ",
	             gh_errname(out->err), (int)out->stage, out->flags,
	             out->count);
	if (n < 0 || (size_t)n + 2 > cap)
		return 0;
	/* the detail as far as it goes, on one line, cut between two
	 * characters (it ends up in a log line) */
	room = cap - (size_t)n - 2;
	dn = strnlen(out->detail, sizeof(out->detail));
	dn = gh_utf8_cut(out->detail, dn, room);
	for (i = 0; i < dn; i++)
		buf[n + i] = (unsigned char)out->detail[i] < 0x20 ||
		             out->detail[i] == 0x7f ? '?' : out->detail[i];
	buf[n + dn] = '\n';
	buf[n + dn + 1] = '\0';
	return (size_t)n + dn + 1;
}

/* A decimal number at *p, then one space (or the end): advances *p. */
static int
read_num(const char **p, const char *end, unsigned long long max,
         unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
	}
	if (s < end && *s != ' ')
		return -1;
	*p = s < end ? s + 1 : s;
	*out = v;
	return 0;
}

int
gp_wire_read_answer(const char *buf, size_t len, struct gp_outcome *out)
{
	const char *p = buf, *end, *sp;
	unsigned long long stage, flags, count;
	size_t n;
	int e;

	if (len < 6 || buf[len - 1] != '\n' || memcmp(buf, "GHW1 ", 5) != 0)
		return -1;
	end = buf + len - 1;          /* the '\n' */
	p += 5;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL)
		return -1;
	for (e = 0; e < GH_ERR_COUNT_; e++) {
		const char *name = gh_errname((gh_err)e);

		if (strlen(name) == (size_t)(sp - p) &&
		    memcmp(name, p, (size_t)(sp - p)) == 0)
			break;
	}
	if (e == GH_ERR_COUNT_)
		return -1;
	p = sp + 1;
	if (read_num(&p, end, GH_PAM_ST_WRITER, &stage) ||
	    read_num(&p, end, UINT32_MAX, &flags) ||
	    read_num(&p, end, UINT64_MAX, &count))
		return -1;
	memset(out, 0, sizeof(*out));
	out->err = (gh_err)e;
	out->stage = (enum gp_stage)stage;
	out->flags = (unsigned)flags;
	out->count = count;
	n = (size_t)(end - p);
	if (n >= sizeof(out->detail))
		n = sizeof(out->detail) - 1;
	for (size_t i = 0; i < n; i++)
		out->detail[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ?
		                 '?' : p[i];
	out->detail[n] = '\0';
	return 0;
}
