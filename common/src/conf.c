/*
 * conf.c - parse gatehouse.conf with inih against the schema in
 * conf_schema.c; getters with defaults.
 *
 * inih as Debian builds it reads into a 200-byte stack buffer and does not
 * report line numbers to the handler.  We feed it through our own reader,
 * which counts lines and reads whole physical lines itself: a "key = value"
 * line too long for inih's buffer is handed over as "key=\001" and the
 * handler takes the real value from the reader.  So long webhook URLs work
 * and inih's process-wide settings are never touched.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "gatehouse/conf.h"
#include "conf_int.h"
#include "detail_int.h"

#define CONF_LINE_MAX 8192

struct conf_entry {
	char *section;
	char *key;
	char *value;
	unsigned line;
	long long num;                 /* parsed int/size/duration/bool */
	const struct gh_conf_key *k;
};

struct gh_conf {
	char *source;
	struct conf_entry *e;
	size_t n, cap;
	char **sections;               /* in file order, unique */
	size_t nsec, seccap;
};

struct parse_ctx {
	struct gh_conf *conf;
	/* input: a FILE or a string */
	FILE *fp;
	const char *str;
	unsigned line;
	char *buf;                     /* the current physical line */
	size_t bufcap;
	char *long_value;              /* value of an over-long line */
	/* first error */
	char *detail;
	size_t dlen;
	int failed;
	gh_err err;
};

const char *
gh_conf_default_path(void)
{
	/* secure_getenv: a setuid or setgid caller never takes its
	 * configuration from the invoking user's environment. */
	const char *p = secure_getenv("GATEHOUSE_CONF");

	return (p != NULL && *p != '\0') ? p : GH_CONF_DEFAULT_PATH;
}

const char *
gh_conf_type_name(enum gh_conf_type t)
{
	static const char *const names[] = {
		"string", "path", "bool", "int", "size", "duration", "enum",
		"list"
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void
gh_conf_schema_each(gh_conf_key_fn fn, void *arg)
{
	for (size_t t = 0; gh_conf_schemas[t]; t++)
		for (const struct gh_conf_key *k = gh_conf_schemas[t]; k->section;
		     k++)
			fn(k, arg);
}

/* ---- value parsers ---- */

static gh_err
parse_number(const char *s, long long *out, const char **rest)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return GH_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return GH_EINVAL;
	*out = v;
	*rest = end;
	return GH_OK;
}

gh_err
gh_parse_size(const char *s, long long *out)
{
	const char *rest;
	long long v, mul = 1;

	if (s == NULL || parse_number(s, &v, &rest))
		return GH_EINVAL;
	switch (toupper((unsigned char)*rest)) {
	case '\0':
		break;
	case 'K':
		mul = 1024LL;
		rest++;
		break;
	case 'M':
		mul = 1024LL * 1024;
		rest++;
		break;
	case 'G':
		mul = 1024LL * 1024 * 1024;
		rest++;
		break;
	case 'T':
		mul = 1024LL * 1024 * 1024 * 1024;
		rest++;
		break;
	default:
		return GH_EINVAL;
	}
	if (toupper((unsigned char)*rest) == 'B' || toupper((unsigned char)*rest) == 'I')
		rest++;
	if (toupper((unsigned char)*rest) == 'B')
		rest++;
	if (*rest != '\0' || v > LLONG_MAX / mul)
		return GH_EINVAL;
	*out = v * mul;
	return GH_OK;
}

gh_err
gh_parse_duration_ms(const char *s, long long *out)
{
	const char *rest;
	long long v, mul;

	if (s == NULL || parse_number(s, &v, &rest))
		return GH_EINVAL;
	if (strcmp(rest, "ms") == 0)
		mul = 1;
	else if (*rest == '\0' || strcmp(rest, "s") == 0)
		mul = 1000;
	else if (strcmp(rest, "m") == 0 || strcmp(rest, "min") == 0)
		mul = 60 * 1000LL;
	else if (strcmp(rest, "h") == 0)
		mul = 3600 * 1000LL;
	else if (strcmp(rest, "d") == 0)
		mul = 86400 * 1000LL;
	else if (strcmp(rest, "w") == 0)
		mul = 7 * 86400 * 1000LL;
	else
		return GH_EINVAL;
	if (v > LLONG_MAX / mul)
		return GH_EINVAL;
	*out = v * mul;
	return GH_OK;
}

gh_err
gh_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	if (s == NULL)
		return GH_EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return GH_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return GH_OK;
		}
	}
	return GH_EINVAL;
}

static int
choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Check v against k; on success store the parsed number in *num.  why
 * receives the reason on failure. */
static int
check_value(const struct gh_conf_key *k, const char *v, long long *num,
            char *why, size_t wlen)
{
	long long x = 0;
	int b;

	switch (k->type) {
	case GH_CT_STRING:
	case GH_CT_LIST:
		break;
	case GH_CT_PATH:
		if (v[0] != '/') {
			snprintf(why, wlen, "'%s' is not an absolute path", v);
			return 0;
		}
		break;
	case GH_CT_BOOL:
		if (gh_parse_bool(v, &b)) {
			snprintf(why, wlen, "'%s' is not yes or no", v);
			return 0;
		}
		x = b;
		break;
	case GH_CT_INT: {
		char *end;

		errno = 0;
		x = strtoll(v, &end, 10);
		if (end == v || *end != '\0' || errno == ERANGE) {
			snprintf(why, wlen, "'%s' is not a number", v);
			return 0;
		}
		break;
	}
	case GH_CT_SIZE:
		if (gh_parse_size(v, &x)) {
			snprintf(why, wlen, "'%s' is not a size (like 64M)", v);
			return 0;
		}
		break;
	case GH_CT_DURATION:
		if (gh_parse_duration_ms(v, &x)) {
			snprintf(why, wlen,
			         "'%s' is not a duration (like 500ms, 30s, 5m, 2h, 1d)",
			         v);
			return 0;
		}
		break;
	case GH_CT_ENUM:
		if (!choice_ok(k->choices, v)) {
			snprintf(why, wlen, "'%s' is not one of %s", v,
			         k->choices);
			return 0;
		}
		break;
	}
	if ((k->type == GH_CT_INT || k->type == GH_CT_SIZE ||
	     k->type == GH_CT_DURATION) && (k->min || k->max) &&
	    (x < k->min || x > k->max)) {
		snprintf(why, wlen, "'%s' is out of range", v);
		return 0;
	}
	*num = x;
	return 1;
}

/* ---- schema lookup ---- */

static int
section_matches(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern);

	if (pl >= 2 && strcmp(pattern + pl - 2, ".*") == 0) {
		const char *rest = name + pl - 1;

		if (strncmp(pattern, name, pl - 1) != 0 || *rest == '\0')
			return 0;
		for (; *rest; rest++)
			if (!isalnum((unsigned char)*rest) && *rest != '-' &&
			    *rest != '_')
				return 0;
		return 1;
	}
	return strcmp(pattern, name) == 0;
}

static const struct gh_conf_key *
schema_find(const char *section, const char *key, int *section_known)
{
	if (section_known)
		*section_known = 0;
	for (size_t t = 0; gh_conf_schemas[t]; t++) {
		for (const struct gh_conf_key *k = gh_conf_schemas[t]; k->section;
		     k++) {
			if (!section_matches(k->section, section))
				continue;
			if (section_known)
				*section_known = 1;
			if (strcmp(k->key, key) == 0)
				return k;
		}
	}
	return NULL;
}

/* ---- parsing ---- */

__attribute__((format(printf, 3, 4)))
static void
fail(struct parse_ctx *c, gh_err err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	c->failed = 1;
	c->err = err;
	if (c->detail == NULL || c->dlen == 0)
		return;
	n = snprintf(c->detail, c->dlen, "%s:%u: ", c->conf->source, c->line);
	if (n < 0 || (size_t)n >= c->dlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->detail + n, c->dlen - n, fmt, ap);
	va_end(ap);
}

static int
add_section(struct gh_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->nsec; i++)
		if (strcmp(conf->sections[i], name) == 0)
			return 1;
	if (conf->nsec == conf->seccap) {
		size_t cap = conf->seccap ? conf->seccap * 2 : 8;
		char **s = realloc(conf->sections, cap * sizeof(*s));

		if (s == NULL)
			return 0;
		conf->sections = s;
		conf->seccap = cap;
	}
	conf->sections[conf->nsec] = strdup(name);
	if (conf->sections[conf->nsec] == NULL)
		return 0;
	conf->nsec++;
	return 1;
}

static struct conf_entry *
find_entry(const struct gh_conf *conf, const char *section, const char *key)
{
	for (size_t i = 0; i < conf->n; i++)
		if (strcmp(conf->e[i].section, section) == 0 &&
		    strcmp(conf->e[i].key, key) == 0)
			return &conf->e[i];
	return NULL;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	struct gh_conf *conf = c->conf;
	const struct gh_conf_key *k;
	struct conf_entry *e;
	char why[256];
	long long num = 0;
	int known;

	if (strcmp(value, "\001") == 0 && c->long_value != NULL)
		value = c->long_value;
	if (section[0] == '\0') {
		fail(c, GH_ECONFIG, "key '%s' is outside any section", name);
		return 0;
	}
	k = schema_find(section, name, &known);
	if (k == NULL) {
		if (!known)
			fail(c, GH_ECONFIG, "unknown section [%s]", section);
		else
			fail(c, GH_ECONFIG, "unknown key '%s' in [%s]", name,
			     section);
		return 0;
	}
	e = find_entry(conf, section, name);
	if (e != NULL) {
		if (k->type == GH_CT_LIST) {
			/* A repeated list key, or inih's continuation line,
			 * appends: "allow = a b" then "allow = c". */
			size_t ol = strlen(e->value), nl = strlen(value);
			char *v = realloc(e->value, ol + nl + 2);

			if (v == NULL) {
				fail(c, GH_ENOMEM, "out of memory");
				return 0;
			}
			v[ol] = ' ';
			memcpy(v + ol + 1, value, nl + 1);
			e->value = v;
			return 1;
		}
		fail(c, GH_ECONFIG, "key '%s' in [%s] is set twice (first on "
		     "line %u)", name, section, e->line);
		return 0;
	}
	if (!check_value(k, value, &num, why, sizeof(why))) {
		fail(c, GH_ECONFIG, "key '%s' in [%s]: %s", name, section, why);
		return 0;
	}
	if (!add_section(conf, section))
		goto nomem;
	if (conf->n == conf->cap) {
		size_t cap = conf->cap ? conf->cap * 2 : 16;
		struct conf_entry *ne = realloc(conf->e, cap * sizeof(*ne));

		if (ne == NULL)
			goto nomem;
		conf->e = ne;
		conf->cap = cap;
	}
	e = &conf->e[conf->n];
	e->section = strdup(section);
	e->key = strdup(name);
	e->value = strdup(value);
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		goto nomem;
	}
	e->line = c->line;
	e->num = num;
	e->k = k;
	conf->n++;
	return 1;
nomem:
	fail(c, GH_ENOMEM, "out of memory");
	return 0;
}

/* Read one physical line from the file or the string into c->buf. */
static ssize_t
next_line(struct parse_ctx *c)
{
	if (c->fp != NULL)
		return getline(&c->buf, &c->bufcap, c->fp);
	if (c->str == NULL || *c->str == '\0')
		return -1;
	{
		const char *nl = strchr(c->str, '\n');
		size_t n = nl ? (size_t)(nl - c->str) + 1 : strlen(c->str);

		if (n + 1 > c->bufcap) {
			char *b = realloc(c->buf, n + 1);

			if (b == NULL)
				return -1;
			c->buf = b;
			c->bufcap = n + 1;
		}
		memcpy(c->buf, c->str, n);
		c->buf[n] = '\0';
		c->str += n;
		return (ssize_t)n;
	}
}

static char *
reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	ssize_t n;
	char *eq, *v, *end;

	n = next_line(c);
	if (n < 0)
		return NULL;
	c->line++;
	free(c->long_value);
	c->long_value = NULL;
	if ((size_t)n > CONF_LINE_MAX) {
		fail(c, GH_ECONFIG, "line is longer than %d bytes",
		     CONF_LINE_MAX);
		str[0] = '\0';
		return str;
	}
	if (n + 3 <= num) {
		memcpy(str, c->buf, (size_t)n + 1);
		return str;
	}
	/* Over-long for inih: split "key = value" ourselves. */
	eq = strpbrk(c->buf, "=:");
	if (eq == NULL || (size_t)(eq - c->buf) + 4 > (size_t)num) {
		fail(c, GH_ECONFIG, "line is too long and is not 'key = value'");
		str[0] = '\0';
		return str;
	}
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	/* inline comments start with " ;", as inih has them */
	for (end = v; *end; end++)
		if (*end == ';' && end > v && isspace((unsigned char)end[-1]))
			break;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	c->long_value = strndup(v, (size_t)(end - v));
	if (c->long_value == NULL) {
		fail(c, GH_ENOMEM, "out of memory");
		str[0] = '\0';
		return str;
	}
	memcpy(str, c->buf, (size_t)(eq - c->buf) + 1);
	memcpy(str + (eq - c->buf) + 1, "\001\n", 3);
	return str;
}

static gh_err
run_parse(struct gh_conf **out, struct parse_ctx *c)
{
	int rc;

	rc = ini_parse_stream(reader, c, handler, c);
	free(c->buf);
	free(c->long_value);
	if (!c->failed && rc > 0)
		fail(c, GH_ECONFIG, "syntax error (expected [section] or "
		     "key = value)");
	if (!c->failed && rc < 0)
		fail(c, GH_ENOMEM, "out of memory");
	if (c->failed) {
		gh_conf_free(c->conf);
		return c->err;
	}
	*out = c->conf;
	return GH_OK;
}

static struct gh_conf *
conf_new(const char *source)
{
	struct gh_conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		return NULL;
	conf->source = strdup(source ? source : "(string)");
	if (conf->source == NULL) {
		free(conf);
		return NULL;
	}
	return conf;
}

gh_err
gh_conf_load(struct gh_conf **out, const char *path, char *detail,
             size_t dlen)
{
	struct parse_ctx c;
	gh_err err;

	if (out == NULL)
		return GH_EINVAL;
	*out = NULL;
	if (detail && dlen)
		detail[0] = '\0';
	if (path == NULL)
		path = gh_conf_default_path();
	memset(&c, 0, sizeof(c));
	c.detail = detail;
	c.dlen = dlen;
	c.fp = fopen(path, "re");
	if (c.fp == NULL) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOENT ? GH_ENOTFOUND :
		                 (e == EACCES || e == EPERM) ? GH_EACCES :
		                 GH_EIO, "%s: %s", path, strerror(e));
	}
	c.conf = conf_new(path);
	if (c.conf == NULL) {
		fclose(c.fp);
		return GH_ENOMEM;
	}
	err = run_parse(out, &c);
	fclose(c.fp);
	return err;
}

gh_err
gh_conf_parse(struct gh_conf **out, const char *text, const char *name,
              char *detail, size_t dlen)
{
	struct parse_ctx c;

	if (out == NULL || text == NULL)
		return GH_EINVAL;
	*out = NULL;
	if (detail && dlen)
		detail[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.detail = detail;
	c.dlen = dlen;
	c.str = text;
	c.conf = conf_new(name);
	if (c.conf == NULL)
		return GH_ENOMEM;
	return run_parse(out, &c);
}

gh_err
gh_conf_defaults(struct gh_conf **out)
{
	return gh_conf_parse(out, "", "(defaults)", NULL, 0);
}

void
gh_conf_free(struct gh_conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->n; i++) {
		free(conf->e[i].section);
		free(conf->e[i].key);
		free(conf->e[i].value);
	}
	for (size_t i = 0; i < conf->nsec; i++)
		free(conf->sections[i]);
	free(conf->sections);
	free(conf->e);
	free(conf->source);
	free(conf);
}

const char *
gh_conf_source(const struct gh_conf *conf)
{
	return conf ? conf->source : NULL;
}

/* ---- getters ---- */

const char *
gh_conf_str(const struct gh_conf *conf, const char *section, const char *key)
{
	const struct conf_entry *e;
	const struct gh_conf_key *k;

	if (conf == NULL || section == NULL || key == NULL)
		return NULL;
	e = find_entry(conf, section, key);
	if (e)
		return e->value;
	k = schema_find(section, key, NULL);
	return k ? k->def : NULL;
}

long long
gh_conf_int(const struct gh_conf *conf, const char *section, const char *key)
{
	const struct conf_entry *e;
	const struct gh_conf_key *k;
	char why[128];
	long long v = 0;

	if (conf == NULL || section == NULL || key == NULL)
		return 0;
	e = find_entry(conf, section, key);
	if (e)
		return e->num;
	k = schema_find(section, key, NULL);
	if (k == NULL || k->def == NULL ||
	    !check_value(k, k->def, &v, why, sizeof(why)))
		return 0;
	return v;
}

int
gh_conf_bool(const struct gh_conf *conf, const char *section, const char *key)
{
	return gh_conf_int(conf, section, key) != 0;
}

int
gh_conf_is_set(const struct gh_conf *conf, const char *section,
               const char *key)
{
	return conf && find_entry(conf, section, key) != NULL;
}

unsigned
gh_conf_line(const struct gh_conf *conf, const char *section, const char *key)
{
	const struct conf_entry *e = conf ? find_entry(conf, section, key) : NULL;

	return e ? e->line : 0;
}

void
gh_conf_sections(const struct gh_conf *conf, const char *prefix,
                 gh_conf_section_fn fn, void *arg)
{
	size_t pl = prefix ? strlen(prefix) : 0;

	if (conf == NULL || fn == NULL)
		return;
	for (size_t i = 0; i < conf->nsec; i++)
		if (pl == 0 || strncmp(conf->sections[i], prefix, pl) == 0)
			fn(conf->sections[i], arg);
}

void
gh_conf_store_opts(const struct gh_conf *conf, struct gh_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->path = gh_conf_str(conf, "store", "path");
	o->map_size = (size_t)gh_conf_int(conf, "store", "map_size");
	o->map_max = (size_t)gh_conf_int(conf, "store", "map_max");
	o->lock_timeout_ms = (int)gh_conf_int(conf, "store", "lock_timeout");
	if (!gh_conf_bool(conf, "store", "sync"))
		o->flags |= GH_STORE_NOSYNC;
}
