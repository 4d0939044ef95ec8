/*
 * tzfile.c - TZif (RFC 8536) reader and POSIX TZ rule evaluation; see
 * tzfile.h for why notifyd does not use localtime().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "civil.h"
#include "gatehouse/file.h"
#include "tzfile.h"

/* A rule date of the POSIX TZ string: Jn, n or Mm.w.d, then a time. */
struct tz_rule {
	char kind;          /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' */
	int day;            /* J/N: the number; M: weekday 0..6 */
	int week;           /* M: 1..5, 5 meaning the last */
	int mon;            /* M: 1..12 */
	int32_t time;       /* seconds after local midnight, may be < 0 */
};

struct tz_posix {
	int32_t std_off;    /* seconds east of UTC */
	int32_t dst_off;
	int has_dst;
	struct tz_rule start, end;
};

struct tz_type {
	int32_t off;
	unsigned char isdst;
};

struct nd_tz {
	char name[GH_TZ_NAME_MAX + 1];
	size_t ntrans;
	int64_t *trans;          /* ascending */
	unsigned char *idx;      /* type of each transition */
	size_t ntypes;
	struct tz_type *types;
	int has_posix;
	struct tz_posix posix;
};

/* Offsets beyond +-25 hours are not time zones. */
#define TZ_OFF_LIMIT (25 * 3600)

/* ---- POSIX TZ strings ---- */

static int
tz_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static int
tz_isalpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* tz_name - skip a zone abbreviation: 3+ letters, or <...> of [A-Za-z0-9+-]. */
static const char *
tz_name(const char *p)
{
	const char *q;

	if (*p == '<') {
		q = ++p;
		while (*p && *p != '>') {
			if (!tz_isalpha(*p) && !tz_isdigit(*p) && *p != '+' &&
			    *p != '-')
				return NULL;
			p++;
		}
		if (*p != '>' || p - q < 3)
			return NULL;
		return p + 1;
	}
	q = p;
	while (tz_isalpha(*p))
		p++;
	return p - q >= 3 ? p : NULL;
}

/* tz_num - up to maxdig digits, value <= max. */
static const char *
tz_num(const char *p, int maxdig, int max, int *out)
{
	int v = 0, n = 0;

	while (tz_isdigit(*p) && n < maxdig) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0 || tz_isdigit(*p) || v > max)
		return NULL;
	*out = v;
	return p;
}

/* tz_hms - [+-]hh[:mm[:ss]], hours at most maxh. */
static const char *
tz_hms(const char *p, int maxh, int32_t *out)
{
	int sign = 1, h = 0, m = 0, s = 0;

	if (*p == '+') {
		p++;
	} else if (*p == '-') {
		sign = -1;
		p++;
	}
	p = tz_num(p, 3, maxh, &h);
	if (p && *p == ':') {
		p = tz_num(p + 1, 2, 59, &m);
		if (p && *p == ':')
			p = tz_num(p + 1, 2, 59, &s);
	}
	if (p == NULL)
		return NULL;
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

/* tz_date - Jn | n | Mm.w.d, then an optional /time (default 02:00). */
static const char *
tz_date(const char *p, struct tz_rule *r)
{
	memset(r, 0, sizeof *r);
	if (*p == 'J') {
		r->kind = 'J';
		p = tz_num(p + 1, 3, 365, &r->day);
		if (p && r->day < 1)
			return NULL;
	} else if (*p == 'M') {
		r->kind = 'M';
		p = tz_num(p + 1, 2, 12, &r->mon);
		if (p == NULL || r->mon < 1 || *p != '.')
			return NULL;
		p = tz_num(p + 1, 1, 5, &r->week);
		if (p == NULL || r->week < 1 || *p != '.')
			return NULL;
		p = tz_num(p + 1, 1, 6, &r->day);
	} else {
		r->kind = 'N';
		p = tz_num(p, 3, 365, &r->day);
	}
	if (p == NULL)
		return NULL;
	r->time = 2 * 3600;
	if (*p == '/')
		p = tz_hms(p + 1, 167, &r->time);
	return p;
}

static int
tz_posix_parse(const char *s, struct tz_posix *px)
{
	const char *p = s;
	int32_t off;

	memset(px, 0, sizeof *px);
	p = tz_name(p);
	if (p == NULL || (p = tz_hms(p, 24, &off)) == NULL)
		return -1;
	/* POSIX offsets count west of Greenwich: "EST5" is UTC-5. */
	px->std_off = -off;
	if (*p == '\0')
		return 0;
	p = tz_name(p);
	if (p == NULL)
		return -1;
	px->has_dst = 1;
	px->dst_off = px->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = tz_hms(p, 24, &off)) == NULL)
			return -1;
		px->dst_off = -off;
	}
	if (*p == '\0') {
		/* No rule given: POSIX leaves it to the implementation; this is
		 * the United States' rule, as the reference code uses. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p != ',' || (p = tz_date(p + 1, &px->start)) == NULL ||
	    *p != ',' || (p = tz_date(p + 1, &px->end)) == NULL || *p != '\0')
		return -1;
	return 0;
}

/* tz_rule_day - day number (since the epoch) of rule r in year y. */
static int64_t
tz_rule_day(const struct tz_rule *r, int64_t y)
{
	int64_t jan1 = nd_days_from_civil(y, 1, 1);
	int64_t first, d;

	switch (r->kind) {
	case 'J':
		/* Feb 29 is never counted: J60 is always March 1. */
		return jan1 + r->day - 1 + (nd_is_leap(y) && r->day >= 60);
	case 'N':
		return jan1 + r->day;
	default:
		first = nd_days_from_civil(y, r->mon, 1);
		d = first + (r->day - nd_weekday(first) + 7) % 7 +
		    (int64_t)(r->week - 1) * 7;
		while (d >= first + nd_month_days(y, r->mon))
			d -= 7;
		return d;
	}
}

static int32_t
tz_posix_offset(const struct tz_posix *px, int64_t t, int *isdst)
{
	struct nd_civil c;
	int64_t s, e;
	int dst;

	if (!px->has_dst) {
		*isdst = 0;
		return px->std_off;
	}
	nd_civil_from_secs(t + px->std_off, &c);
	/* DST starts at a standard-time wall clock reading and ends at a
	 * daylight-time one. */
	s = tz_rule_day(&px->start, c.year) * GH_SECS_PER_DAY + px->start.time -
	    px->std_off;
	e = tz_rule_day(&px->end, c.year) * GH_SECS_PER_DAY + px->end.time -
	    px->dst_off;
	if (s < e)
		dst = t >= s && t < e;
	else    /* southern hemisphere: DST spans the new year */
		dst = !(t >= e && t < s);
	*isdst = dst;
	return dst ? px->dst_off : px->std_off;
}

/* ---- TZif ---- */

static uint32_t
tz_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t
tz_be64(const unsigned char *p)
{
	uint64_t v = (uint64_t)tz_be32(p) << 32 | tz_be32(p + 4);
	return (int64_t)v;
}

struct tz_counts {
	size_t isut, isstd, leap, time, type, chars;
};

/* tz_header - read a 44-byte header at p; the block size it announces. */
static int
tz_header(const unsigned char *p, size_t avail, size_t tsize,
          struct tz_counts *c, size_t *block)
{
	size_t lim = GH_TZ_FILE_MAX;

	if (avail < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	c->isut = tz_be32(p + 20);
	c->isstd = tz_be32(p + 24);
	c->leap = tz_be32(p + 28);
	c->time = tz_be32(p + 32);
	c->type = tz_be32(p + 36);
	c->chars = tz_be32(p + 40);
	if (c->isut > lim || c->isstd > lim || c->leap > lim ||
	    c->time > lim || c->type > lim || c->chars > lim)
		return -1;
	*block = c->time * tsize + c->time + c->type * 6 + c->chars +
	         c->leap * (tsize + 4) + c->isstd + c->isut;
	return 44 + *block <= avail ? 0 : -1;
}

static gh_err
tz_alloc(const char *name, size_t ntrans, size_t ntypes, struct nd_tz **out)
{
	struct nd_tz *tz = calloc(1, sizeof *tz);

	if (tz == NULL)
		return GH_ENOMEM;
	snprintf(tz->name, sizeof tz->name, "%s", name ? name : "");
	tz->ntrans = ntrans;
	tz->ntypes = ntypes;
	tz->trans = calloc(ntrans ? ntrans : 1, sizeof *tz->trans);
	tz->idx = calloc(ntrans ? ntrans : 1, 1);
	tz->types = calloc(ntypes ? ntypes : 1, sizeof *tz->types);
	if (tz->trans == NULL || tz->idx == NULL || tz->types == NULL) {
		nd_tz_free(tz);
		return GH_ENOMEM;
	}
	*out = tz;
	return GH_OK;
}

gh_err
nd_tz_parse(const char *name, const unsigned char *data, size_t len,
            struct nd_tz **out)
{
	struct tz_counts c;
	struct nd_tz *tz = NULL;
	const unsigned char *p;
	size_t block, tsize = 4, i;
	char footer[256];
	gh_err err = GH_EINVAL;

	*out = NULL;
	if (data == NULL || len > GH_TZ_FILE_MAX ||
	    tz_header(data, len, 4, &c, &block) != 0)
		return GH_EINVAL;
	p = data + 44;
	footer[0] = '\0';
	if (data[4] >= '2') {
		/* Skip the 32-bit body; the second header describes 64-bit data. */
		p += block;
		if (tz_header(p, len - (size_t)(p - data), 8, &c, &block) != 0)
			return GH_EINVAL;
		tsize = 8;
		p += 44;
		{
			const unsigned char *f = p + block;
			const unsigned char *end = data + len;
			const unsigned char *nl;
			size_t flen;

			if (f >= end || *f != '\n')
				return GH_EINVAL;
			nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
			if (nl == NULL)
				return GH_EINVAL;
			flen = (size_t)(nl - f - 1);
			if (flen >= sizeof footer)
				return GH_EINVAL;
			memcpy(footer, f + 1, flen);
			footer[flen] = '\0';
		}
	}
	if (c.type == 0 || c.type > 256 || c.chars == 0 || c.leap != 0 ||
	    (c.isstd != 0 && c.isstd != c.type) ||
	    (c.isut != 0 && c.isut != c.type))
		return GH_EINVAL;
	err = tz_alloc(name, c.time, c.type, &tz);
	if (err)
		return err;
	err = GH_EINVAL;
	for (i = 0; i < c.time; i++) {
		tz->trans[i] = tsize == 8 ? tz_be64(p + i * 8) :
		               (int64_t)(int32_t)tz_be32(p + i * 4);
		if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
			goto cleanup;
	}
	p += c.time * tsize;
	for (i = 0; i < c.time; i++) {
		tz->idx[i] = p[i];
		if (p[i] >= c.type)
			goto cleanup;
	}
	p += c.time;
	for (i = 0; i < c.type; i++) {
		int32_t off = (int32_t)tz_be32(p + i * 6);
		if (off <= -TZ_OFF_LIMIT || off >= TZ_OFF_LIMIT || p[i * 6 + 4] > 1 ||
		    p[i * 6 + 5] >= c.chars)
			goto cleanup;
		tz->types[i].off = off;
		tz->types[i].isdst = p[i * 6 + 4];
	}
	if (footer[0] != '\0') {
		if (tz_posix_parse(footer, &tz->posix) != 0)
			goto cleanup;
		tz->has_posix = 1;
	}
	*out = tz;
	tz = NULL;
	err = GH_OK;
cleanup:
	nd_tz_free(tz);
	return err;
}

gh_err
nd_tz_posix(const char *spec, struct nd_tz **out)
{
	struct tz_posix px;
	gh_err err;

	*out = NULL;
	if (spec == NULL || strlen(spec) > 255 || tz_posix_parse(spec, &px) != 0)
		return GH_EINVAL;
	err = tz_alloc(spec, 0, 1, out);
	if (err)
		return err;
	(*out)->types[0].off = px.std_off;
	(*out)->posix = px;
	(*out)->has_posix = 1;
	return GH_OK;
}

gh_err
nd_tz_utc(struct nd_tz **out)
{
	*out = NULL;
	return tz_alloc("UTC", 0, 1, out);
}

int
nd_tz_name_ok(const char *name)
{
	const char *p;
	int start = 1;

	if (name == NULL || *name == '\0' || strlen(name) > GH_TZ_NAME_MAX)
		return 0;
	for (p = name; *p; p++) {
		char c = *p;
		if (c == '/') {
			if (start)      /* empty component or leading '/' */
				return 0;
			start = 1;
			continue;
		}
		if (start && (c == '-' || c == '.'))
			return 0;
		if (!tz_isalpha(c) && !tz_isdigit(c) && c != '_' && c != '+' &&
		    c != '-')
			return 0;
		start = 0;
	}
	return !start;
}

/* The file at path whole.  Links are followed: the system's zone files make
 * aliases (US/Eastern) that way.  GH_EINVAL for what cannot be a TZif file
 * (not a regular file, too small or too large). */
static gh_err
tz_read_file(const char *path, unsigned char **data, size_t *len)
{
	char *buf = NULL;
	gh_err err;

	err = gh_file_read(path, GH_FILE_FOLLOW, GH_TZ_FILE_MAX, &buf, len,
	                   NULL, 0);
	if (err == GH_ETOOBIG || (err == GH_OK && *len < 44)) {
		free(buf);
		return GH_EINVAL;
	}
	*data = (unsigned char *)buf;
	return err;
}

gh_err
nd_tz_load(const char *name, const char *dir, struct nd_tz **out)
{
	char path[PATH_MAX];
	unsigned char *data = NULL;
	size_t len = 0;
	int n;
	gh_err err;

	*out = NULL;
	if (name == NULL || *name == '\0' || strcmp(name, "UTC") == 0 ||
	    strcmp(name, "Etc/UTC") == 0)
		return nd_tz_utc(out);
	if (!nd_tz_name_ok(name))
		return GH_EINVAL;
	n = snprintf(path, sizeof path, "%s/%s", dir ? dir : GH_TZ_DIR_DEFAULT,
	             name);
	if (n < 0 || (size_t)n >= sizeof path)
		return GH_EINVAL;
	err = tz_read_file(path, &data, &len);
	if (err)
		return err;
	err = nd_tz_parse(name, data, len, out);
	free(data);
	return err;
}

void
nd_tz_free(struct nd_tz *tz)
{
	if (tz == NULL)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	free(tz);
}

const char *
nd_tz_name(const struct nd_tz *tz)
{
	return tz->name;
}

int32_t
nd_tz_offset(const struct nd_tz *tz, int64_t t, int *isdst)
{
	const struct tz_type *ty;
	size_t lo, hi;
	int dummy;

	if (isdst == NULL)
		isdst = &dummy;
	if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
		if (tz->has_posix)
			return tz_posix_offset(&tz->posix, t, isdst);
		ty = tz->ntrans ? &tz->types[tz->idx[tz->ntrans - 1]] : &tz->types[0];
	} else if (t < tz->trans[0]) {
		/* RFC 8536 3.2: type 0 describes times before the first transition. */
		ty = &tz->types[0];
	} else {
		/* Last transition at or before t. */
		lo = 0;
		hi = tz->ntrans - 1;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (tz->trans[mid] <= t)
				lo = mid;
			else
				hi = mid;
		}
		ty = &tz->types[tz->idx[lo]];
	}
	*isdst = ty->isdst;
	return ty->off;
}

int
nd_tz_resolve(const struct nd_tz *tz, int64_t local, int64_t *first,
              int64_t *second)
{
	/* The offsets a day either side bracket any change near local, as
	 * long as a zone never changes twice within two days. */
	int32_t before = nd_tz_offset(tz, local - GH_SECS_PER_DAY, NULL);
	int32_t after = nd_tz_offset(tz, local + GH_SECS_PER_DAY, NULL);
	int64_t t1 = local - before, t2 = local - after;
	int ok1 = nd_tz_offset(tz, t1, NULL) == before;
	int ok2 = nd_tz_offset(tz, t2, NULL) == after;

	if (ok1 && ok2) {
		*first = t1 < t2 ? t1 : t2;
		*second = t1 < t2 ? t2 : t1;
		return t1 == t2 ? 1 : 2;
	}
	if (ok1 || ok2) {
		*first = *second = ok1 ? t1 : t2;
		return 1;
	}
	/* A gap: the change lies in (t2, t1]; find its first second. */
	{
		int64_t lo = t2 < t1 ? t2 : t1, hi = t2 < t1 ? t1 : t2;
		int32_t off_lo = nd_tz_offset(tz, lo, NULL);

		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			if (nd_tz_offset(tz, mid, NULL) == off_lo)
				lo = mid;
			else
				hi = mid;
		}
		*first = *second = hi;
	}
	return 0;
}
