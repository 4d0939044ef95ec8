/*
 * template.c - {{field}} substitution, escaping, template directories and
 * the built-in fallback rendering (see template.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "gatehouse/users.h"
#include "template.h"
#include "gatehouse/text.h"

#define TMPL_NAME_MAX 255
#define TMPL_PATH_MAX 256   /* longest {{name}} */
#define TMPL_MISSED_MAX 4096

/* ---- bounded output ---- */

struct obuf {
	char *p;
	size_t len, cap, max;
	int trunc;
	int nomem;
};

static int
ob_room(struct obuf *b, size_t n)
{
	size_t want;
	char *np;

	if (b->trunc || b->nomem)
		return -1;
	if (n > b->max - b->len) {
		b->trunc = 1;
		return -1;
	}
	if (b->len + n + 1 <= b->cap)
		return 0;
	want = b->cap ? b->cap : 256;
	while (want < b->len + n + 1)
		want *= 2;
	if (want > b->max + 1)
		want = b->max + 1;
	np = realloc(b->p, want);
	if (np == NULL) {
		b->nomem = 1;
		return -1;
	}
	b->p = np;
	b->cap = want;
	return 0;
}

/* ob_put - append n bytes as one unit: all of them or none. */
static int
ob_put(struct obuf *b, const char *s, size_t n)
{
	if (ob_room(b, n) != 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* ob_text - append text unescaped, cut at a character boundary if full. */
static void
ob_text(struct obuf *b, const char *s, size_t n)
{
	size_t k;

	if (b->trunc || b->nomem)
		return;
	k = gh_utf8_cut(s, n, b->max - b->len);
	if (k > 0 && ob_room(b, k) == 0) {
		memcpy(b->p + b->len, s, k);
		b->len += k;
	}
	if (k < n)
		b->trunc = 1;
}

/* esc_html_br: HTML escaping that also turns line breaks into <br>, for
 * the fallback body only. */
#define ESC_HTML_BR 100

/* ob_escaped - append s escaped as esc, one character at a time. */
static void
ob_escaped(struct obuf *b, const char *s, size_t n, int esc)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0;

	if (esc == GH_TMPL_PLAIN) {
		ob_text(b, s, n);
		return;
	}
	while (i < n && !b->trunc && !b->nomem) {
		unsigned char c = (unsigned char)s[i];
		size_t len = gh_utf8_seqlen(c), k;
		char unit[16];
		size_t ulen = 0;

		if (len > n - i)
			len = n - i;
		if (esc == GH_TMPL_HTML || esc == ESC_HTML_BR) {
			const char *rep = NULL;
			switch (c) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			case '\n':
				if (esc == ESC_HTML_BR)
					rep = "<br>\n";
				break;
			default: break;
			}
			if (rep) {
				ob_put(b, rep, strlen(rep));
				i++;
				continue;
			}
			ob_put(b, s + i, len);
		} else if (esc == GH_TMPL_URL) {
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '*' || c == '-' ||
			    c == '.' || c == '_') {
				unit[ulen++] = (char)c;
			} else if (c == ' ') {
				unit[ulen++] = '+';
			} else {
				for (k = 0; k < len; k++) {
					unsigned char d = (unsigned char)s[i + k];
					unit[ulen++] = '%';
					unit[ulen++] = hex[d >> 4];
					unit[ulen++] = hex[d & 15];
				}
			}
			ob_put(b, unit, ulen);
		} else {    /* GH_TMPL_JSON */
			if (c == '"' || c == '\\') {
				unit[ulen++] = '\\';
				unit[ulen++] = (char)c;
			} else if (c == '\n') {
				memcpy(unit, "\\n", 2);
				ulen = 2;
			} else if (c == '\r') {
				memcpy(unit, "\\r", 2);
				ulen = 2;
			} else if (c == '\t') {
				memcpy(unit, "\\t", 2);
				ulen = 2;
			} else if (c < 0x20 || c == 0x7f) {
				ulen = (size_t)snprintf(unit, sizeof unit, "\\u%04x", c);
			} else {
				memcpy(unit, s + i, len);
				ulen = len;
			}
			ob_put(b, unit, ulen);
		}
		i += len;
	}
}

/* ---- values ---- */

const json_t *
nd_tmpl_lookup(const json_t *vars, const char *path, size_t plen)
{
	const json_t *cur = vars;
	char comp[TMPL_PATH_MAX + 1];
	size_t i = 0;

	if (vars == NULL || plen == 0 || plen > TMPL_PATH_MAX)
		return NULL;
	while (i <= plen && cur != NULL) {
		size_t j = i;
		while (j < plen && path[j] != '.')
			j++;
		if (j == i)
			return NULL;
		memcpy(comp, path + i, j - i);
		comp[j - i] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, comp);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx = strtoul(comp, &end, 10);
			if (*end != '\0' || comp[0] < '0' || comp[0] > '9')
				return NULL;
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		i = j + 1;
	}
	return cur;
}

/* ob_value - append a JSON value's rendering, escaped. */
static void
ob_value(struct obuf *b, const json_t *v, int esc)
{
	char num[64];
	char *dump;
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		ob_escaped(b, json_string_value(v), json_string_length(v), esc);
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		             json_integer_value(v));
		ob_escaped(b, num, (size_t)n, esc);
		break;
	case JSON_REAL:
		n = snprintf(num, sizeof num, "%.15g", json_real_value(v));
		ob_escaped(b, num, (size_t)n, esc);
		break;
	case JSON_TRUE:
		ob_escaped(b, "true", 4, esc);
		break;
	case JSON_FALSE:
		ob_escaped(b, "false", 5, esc);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dump == NULL) {
			b->nomem = 1;
			break;
		}
		ob_escaped(b, dump, strlen(dump), esc);
		free(dump);
		break;
	case JSON_NULL:
		break;
	}
}

static int
name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static const char *
find2(const char *s, size_t n, char c)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == c && s[i + 1] == c)
			return s + i;
	return NULL;
}

/* render_into - the substitution loop. */
static void
render_into(struct obuf *b, const char *t, size_t n, const json_t *vars,
            int esc)
{
	size_t i = 0;

	while (i < n && !b->trunc && !b->nomem) {
		const char *open = find2(t + i, n - i, '{');
		const char *close, *a, *z;
		size_t k;
		int ok = 1;

		if (open == NULL) {
			ob_text(b, t + i, n - i);
			return;
		}
		ob_text(b, t + i, (size_t)(open - (t + i)));
		close = find2(open + 2, n - (size_t)(open + 2 - t), '}');
		if (close == NULL) {
			/* Never closed: the rest is text. */
			ob_text(b, open, n - (size_t)(open - t));
			return;
		}
		a = open + 2;
		z = close;
		while (a < z && *a == ' ')
			a++;
		while (z > a && z[-1] == ' ')
			z--;
		if (a == z || z - a > TMPL_PATH_MAX)
			ok = 0;
		for (k = 0; ok && k < (size_t)(z - a); k++)
			if (!name_char(a[k]))
				ok = 0;
		if (!ok) {
			/* Not a field: keep one brace and look again after it,
			 * so "{{{title}}}" still finds {{title}}. */
			ob_text(b, open, 1);
			i = (size_t)(open + 1 - t);
			continue;
		}
		{
			const json_t *v = nd_tmpl_lookup(vars, a, (size_t)(z - a));
			if (v != NULL)
				ob_value(b, v, esc);
		}
		i = (size_t)(close + 2 - t);
	}
}

static gh_err
ob_finish(struct obuf *b, char **out, size_t *olen, int *truncated)
{
	if (b->nomem) {
		free(b->p);
		return GH_ENOMEM;
	}
	if (b->p == NULL) {
		b->p = malloc(1);
		if (b->p == NULL)
			return GH_ENOMEM;
	}
	b->p[b->len] = '\0';
	*out = b->p;
	if (olen)
		*olen = b->len;
	if (truncated)
		*truncated = b->trunc;
	return GH_OK;
}

gh_err
nd_tmpl_render(const char *tmpl, size_t tlen, const json_t *vars,
               enum nd_tmpl_escape esc, size_t max, char **out, size_t *olen,
               int *truncated)
{
	struct obuf b = {0};

	if (out == NULL || (tmpl == NULL && tlen > 0) || max == 0 ||
	    max >= SIZE_MAX / 2 || esc > GH_TMPL_JSON)
		return GH_EINVAL;
	*out = NULL;
	b.max = max;
	render_into(&b, tmpl ? tmpl : "", tlen, vars, (int)esc);
	return ob_finish(&b, out, olen, truncated);
}

const char *
nd_tmpl_part_name(enum nd_tmpl_part part)
{
	switch (part) {
	case GH_TMPL_SUBJECT:
		return "subject";
	case GH_TMPL_TEXT:
		return "txt";
	case GH_TMPL_HTML_BODY:
		return "html";
	}
	return "?";
}

/* ---- template sets ---- */

struct tmpl_file {
	char *name;
	char *text;
	size_t len;
};

struct nd_tmpl_set {
	struct tmpl_file *files;
	size_t n;
	char **missed;
	size_t nmissed, capmissed;
};

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tmpl_file *)a)->name,
	              ((const struct tmpl_file *)b)->name);
}

/* tmpl_file_name_ok - [A-Za-z0-9_.-], not hidden, with a known suffix. */
static int
tmpl_file_name_ok(const char *name)
{
	static const char *const sfx[] = {".subject", ".txt", ".html"};
	size_t n = strlen(name), i;

	if (n == 0 || n > TMPL_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!name_char(name[i]))
			return 0;
	for (i = 0; i < 3; i++) {
		size_t s = strlen(sfx[i]);
		if (n > s && strcmp(name + n - s, sfx[i]) == 0)
			return 1;
	}
	return 0;
}

/* tmpl_read - the file name in directory dfd, kept as prefix + name
 * (prefix: "" or a language directory's "ko/"). */
static gh_err
tmpl_read(int dfd, const char *prefix, const char *name, struct tmpl_file *f,
          char *detail, size_t dlen)
{
	char *buf = NULL, why[PATH_MAX + 64];
	size_t got = 0;
	gh_err err;

	/* links followed: an admin may link a template to a shared one */
	err = gh_file_read_at(dfd, name, GH_FILE_FOLLOW, GH_TMPL_FILE_MAX, &buf,
	                      &got, why, sizeof(why));
	if (err == GH_EINVAL || err == GH_ENOTFOUND) {
		err = GH_ENOTFOUND;     /* not a template (or gone): skipped */
		goto cleanup;
	}
	if (err) {
		if (detail)
			snprintf(detail, dlen, "%s%s", prefix, why);
		goto cleanup;
	}
	err = GH_EINVAL;
	if (!gh_utf8_valid(buf, got) || memchr(buf, '\0', got) != NULL) {
		if (detail)
			snprintf(detail, dlen, "%s%s: not UTF-8 text", prefix, name);
		goto cleanup;
	}
	err = GH_ENOMEM;
	f->name = malloc(strlen(prefix) + strlen(name) + 1);
	if (f->name == NULL)
		goto cleanup;
	strcpy(f->name, prefix);
	strcat(f->name, name);
	f->text = buf;
	f->len = got;
	buf = NULL;
	err = GH_OK;
cleanup:
	free(buf);
	return err;
}

gh_err
nd_tmpl_set_empty(struct nd_tmpl_set **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? GH_OK : GH_ENOMEM;
}

/* set_push - room for one more file in set. */
static gh_err
set_push(struct nd_tmpl_set *set, size_t *cap, char *detail, size_t dlen)
{
	size_t nc;
	struct tmpl_file *nf;

	if (set->n == GH_TMPL_FILES_MAX) {
		if (detail)
			snprintf(detail, dlen, "more than %d templates",
			         GH_TMPL_FILES_MAX);
		return GH_ETOOBIG;
	}
	if (set->n < *cap)
		return GH_OK;
	nc = *cap ? *cap * 2 : 32;
	nf = realloc(set->files, nc * sizeof *nf);
	if (nf == NULL)
		return GH_ENOMEM;
	set->files = nf;
	*cap = nc;
	return GH_OK;
}

/*
 * load_files - the template files of directory d into set, named prefix +
 * file name.  At the top (prefix ""), a subdirectory named like a
 * language tag is that language's templates, read the same way with the
 * prefix "<tag in canonical case>/"; it is opened with O_NOFOLLOW, so a
 * symbolic link there is not followed (and so not read).  Deeper
 * directories and other names are ignored.
 */
static gh_err
load_files(struct nd_tmpl_set *set, DIR *d, const char *prefix, size_t *cap,
           char *detail, size_t dlen)
{
	struct dirent *de;
	gh_err err;

	while ((de = readdir(d)) != NULL) {
		if (*prefix == '\0' && gh_lang_tag_ok(de->d_name)) {
			char sub[GH_LANG_MAX + 2];
			DIR *ld;
			int fd;

			if (gh_lang_tag_canon(de->d_name, sub, sizeof(sub) - 1))
				continue;
			strcat(sub, "/");
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
			            O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				int e = errno;

				if (e == ENOTDIR || e == ELOOP || e == ENOENT)
					continue;   /* not a language directory */
				if (detail)
					snprintf(detail, dlen, "%s: %s", de->d_name,
					         strerror(e));
				return e == EACCES ? GH_EACCES : GH_EIO;
			}
			ld = fdopendir(fd);
			if (ld == NULL) {
				close(fd);
				return GH_ENOMEM;
			}
			err = load_files(set, ld, sub, cap, detail, dlen);
			closedir(ld);
			if (err)
				return err;
			continue;
		}
		if (!tmpl_file_name_ok(de->d_name))
			continue;
		err = set_push(set, cap, detail, dlen);
		if (err)
			return err;
		err = tmpl_read(dirfd(d), prefix, de->d_name, &set->files[set->n],
		                detail, dlen);
		if (err == GH_ENOTFOUND)
			continue;
		if (err)
			return err;
		set->n++;
	}
	return GH_OK;
}

gh_err
nd_tmpl_set_load(const char *dir, struct nd_tmpl_set **out, char *detail,
                 size_t dlen)
{
	struct nd_tmpl_set *set = NULL;
	DIR *d = NULL;
	size_t cap = 0;
	gh_err err;

	*out = NULL;
	if (detail && dlen)
		detail[0] = '\0';
	d = opendir(dir ? dir : GH_TMPL_DIR_DEFAULT);
	if (d == NULL) {
		if (detail)
			snprintf(detail, dlen, "%s: %s", dir ? dir : GH_TMPL_DIR_DEFAULT,
			         strerror(errno));
		return errno == ENOENT ? GH_ENOTFOUND :
		       errno == EACCES ? GH_EACCES : GH_EIO;
	}
	err = nd_tmpl_set_empty(&set);
	if (err)
		goto cleanup;
	err = load_files(set, d, "", &cap, detail, dlen);
	if (err)
		goto cleanup;
	if (set->n > 1)
		qsort(set->files, set->n, sizeof *set->files, file_cmp);
	/* "ko" and "KO" are one language: two files for one name would make
	 * the lookup pick either */
	for (size_t i = 1; i < set->n; i++) {
		if (strcmp(set->files[i - 1].name, set->files[i].name) == 0) {
			err = GH_EINVAL;
			if (detail)
				snprintf(detail, dlen, "%s: twice (language "
				         "directories whose names differ only "
				         "in case)", set->files[i].name);
			goto cleanup;
		}
	}
	*out = set;
	set = NULL;
	err = GH_OK;
cleanup:
	nd_tmpl_set_free(set);
	closedir(d);
	return err;
}

void
nd_tmpl_set_free(struct nd_tmpl_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++) {
		free(set->files[i].name);
		free(set->files[i].text);
	}
	for (i = 0; i < set->nmissed; i++)
		free(set->missed[i]);
	free(set->missed);
	free(set->files);
	free(set);
}

gh_err
nd_tmpl_set_add_dir(struct nd_tmpl_set *set, const char *dir, size_t *added,
                    char *detail, size_t dlen)
{
	struct nd_tmpl_set *over = NULL;
	struct tmpl_file *nf;
	size_t base = set->n;
	gh_err err;

	if (added)
		*added = 0;
	err = nd_tmpl_set_load(dir, &over, detail, dlen);
	if (err)
		return err;
	/* room for all of them first, so nothing below can fail half-way */
	if (over->n > 0) {
		nf = realloc(set->files, (set->n + over->n) * sizeof *nf);
		if (nf == NULL) {
			nd_tmpl_set_free(over);
			return GH_ENOMEM;
		}
		set->files = nf;
	}
	for (size_t i = 0; i < over->n; i++) {
		struct tmpl_file *f = bsearch(&over->files[i], set->files, base,
		                              sizeof *set->files, file_cmp);

		if (f != NULL) {
			free(f->name);
			free(f->text);
			*f = over->files[i];
		} else {
			set->files[set->n++] = over->files[i];
		}
	}
	if (added)
		*added = over->n;
	over->n = 0;              /* the files are the set's now */
	nd_tmpl_set_free(over);
	if (set->n > 1)
		qsort(set->files, set->n, sizeof *set->files, file_cmp);
	return GH_OK;
}

size_t
nd_tmpl_set_count(const struct nd_tmpl_set *set)
{
	return set->n;
}

static const struct tmpl_file *
set_get(const struct nd_tmpl_set *set, const char *name)
{
	struct tmpl_file key;

	if (set->n == 0)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, set->files, set->n, sizeof *set->files, file_cmp);
}

size_t
nd_tmpl_lang_chain(const char *lang, const char *deflang,
                   char chain[][GH_LANG_MAX + 1], size_t max)
{
	const char *tags[2] = {lang, deflang};
	size_t n = 0;

	for (size_t t = 0; t < 2; t++) {
		char tag[GH_LANG_MAX + 1];
		size_t len;

		/* a tag that is not one (a record written by hand, say) is
		 * passed over, never made into a name */
		if (tags[t] == NULL ||
		    gh_lang_tag_canon(tags[t], tag, sizeof(tag)) != GH_OK)
			continue;
		/* RFC 4647 3.4 lookup: drop subtags from the end */
		for (len = strlen(tag); len > 0;) {
			size_t i;

			tag[len] = '\0';
			for (i = 0; i < n && strcmp(chain[i], tag) != 0; i++)
				;
			if (i == n && n + 1 < max)
				memcpy(chain[n++], tag, len + 1);
			/* the files outside the language directories are
			 * English: an English reader goes there next, never
			 * to the default language */
			if (strcmp(tag, GH_TMPL_BASE_LANG) == 0)
				goto done;
			while (len > 0 && tag[len - 1] != '-')
				len--;
			if (len > 0)
				len--;      /* the '-' */
			/* a single-letter subtag (an extension's "u", a
			 * private use "x") means nothing alone: drop it too */
			if (len >= 2 && tag[len - 2] == '-')
				len -= 2;
		}
	}
done:
	if (n < max)
		chain[n++][0] = '\0';
	return n;
}

const char *
nd_tmpl_find(const struct nd_tmpl_set *set, const char *lang,
             const char *deflang, const char *type, const char *instance,
             const char *kind, enum nd_tmpl_part part, size_t *len,
             const char **name)
{
	const char *types[2] = {type, "default"};
	const char *chans[3];
	char langs[GH_TMPL_LANGS_MAX][GH_LANG_MAX + 1];
	char buf[4 * TMPL_NAME_MAX];
	const char *pn = nd_tmpl_part_name(part);
	size_t nchan = 0, nlang, l, t, c;

	if (instance && *instance)
		chans[nchan++] = instance;
	if (kind && *kind && !(instance && strcmp(instance, kind) == 0))
		chans[nchan++] = kind;
	chans[nchan++] = NULL;
	nlang = nd_tmpl_lang_chain(lang, deflang, langs, GH_TMPL_LANGS_MAX);
	for (l = 0; l < nlang; l++) {
		const char *sep = langs[l][0] ? "/" : "";

		for (t = 0; t < 2; t++) {
			if (types[t] == NULL || *types[t] == '\0')
				continue;
			for (c = 0; c < nchan; c++) {
				const struct tmpl_file *f;
				int n = chans[c] ?
				        snprintf(buf, sizeof buf, "%s%s%s.%s.%s",
				                 langs[l], sep, types[t], chans[c],
				                 pn) :
				        snprintf(buf, sizeof buf, "%s%s%s.%s",
				                 langs[l], sep, types[t], pn);
				if (n < 0 || (size_t)n >= sizeof buf)
					continue;
				f = set_get(set, buf);
				if (f) {
					*len = f->len;
					if (name)
						*name = f->name;
					return f->text;
				}
			}
		}
	}
	return NULL;
}

int
nd_tmpl_missing_once(struct nd_tmpl_set *set, const char *type,
                     const char *kind, enum nd_tmpl_part part)
{
	char key[3 * TMPL_NAME_MAX];
	size_t i;
	char *dup;

	snprintf(key, sizeof key, "%s|%s|%s", type ? type : "",
	         kind ? kind : "", nd_tmpl_part_name(part));
	for (i = 0; i < set->nmissed; i++)
		if (strcmp(set->missed[i], key) == 0)
			return 0;
	/* Past the cap stay quiet rather than grow without bound. */
	if (set->nmissed == TMPL_MISSED_MAX)
		return 0;
	if (set->nmissed == set->capmissed) {
		size_t nc = set->capmissed ? set->capmissed * 2 : 16;
		char **nm = realloc(set->missed, nc * sizeof *nm);
		if (nm == NULL)
			return 1;
		set->missed = nm;
		set->capmissed = nc;
	}
	dup = strdup(key);
	if (dup == NULL)
		return 1;
	set->missed[set->nmissed++] = dup;
	return 1;
}

/* ---- the built-in fallback ---- */

static const char *
ev_str(const json_t *ev, const char *key)
{
	const char *s = json_string_value(json_object_get(ev, key));
	return s && *s ? s : NULL;
}

/*
 * Fallback text forms by channel kind: what reads well where.
 *   FORM_LONG   mail and the inbox: title, message, link, details, footer
 *   FORM_CHAT   chat cards show title, link and type themselves: message
 *               and details
 *   FORM_PUSH   push notifications have their own title field: message
 *   FORM_SMS    one short text: title and message
 */
enum fb_form { FORM_LONG, FORM_CHAT, FORM_PUSH, FORM_SMS };

static enum fb_form
fallback_form(const char *kind)
{
	static const struct {
		const char *kind;
		enum fb_form form;
	} forms[] = {
		{"slack", FORM_CHAT}, {"mattermost", FORM_CHAT},
		{"discord", FORM_CHAT}, {"teams", FORM_CHAT},
		{"webpush", FORM_PUSH}, {"ntfy", FORM_PUSH}, {"gotify", FORM_PUSH},
		{"sms", FORM_SMS},
	};
	size_t i;

	for (i = 0; kind && i < sizeof forms / sizeof forms[0]; i++)
		if (strcmp(kind, forms[i].kind) == 0)
			return forms[i].form;
	return FORM_LONG;
}

/* http_url - only http(s) links are offered as links. */
static int
http_url(const char *u)
{
	return u && (strncmp(u, "https://", 8) == 0 ||
	             strncmp(u, "http://", 7) == 0);
}

static void
ob_str(struct obuf *b, const char *s)
{
	ob_text(b, s, strlen(s));
}

static void
fallback_footer(struct obuf *b, const json_t *ev, int esc)
{
	const char *type = ev_str(ev, "type"), *cat = ev_str(ev, "category");
	const json_t *id = json_object_get(ev, "id");

	ob_str(b, "Gatehouse ");
	ob_escaped(b, type ? type : "event", strlen(type ? type : "event"), esc);
	if (cat) {
		ob_str(b, " (");
		ob_escaped(b, cat, strlen(cat), esc);
		ob_str(b, ")");
	}
	if (id && !json_is_null(id)) {
		ob_str(b, ", event ");
		ob_value(b, id, esc);
	}
}

static void
fallback(struct obuf *b, const json_t *ev, const char *kind,
         enum nd_tmpl_part part)
{
	const char *title = ev_str(ev, "title"), *msg = ev_str(ev, "message");
	const char *url = ev_str(ev, "action_url"), *type = ev_str(ev, "type");
	const json_t *meta = json_object_get(ev, "metadata");
	const char *key;
	const json_t *v;

	if (part == GH_TMPL_SUBJECT) {
		if (title) {
			ob_str(b, title);
		} else {
			ob_str(b, "Gatehouse: ");
			ob_str(b, type ? type : "notification");
		}
		return;
	}
	if (part == GH_TMPL_TEXT) {
		enum fb_form form = fallback_form(kind);
		const char *head = title ? title : type ? type : "Notification";

		if (form == FORM_PUSH) {
			ob_str(b, msg ? msg : head);
			return;
		}
		if (form == FORM_SMS) {
			ob_str(b, head);
			if (msg) {
				ob_str(b, "\n");
				ob_str(b, msg);
			}
			return;
		}
		if (form == FORM_LONG) {
			ob_str(b, head);
			ob_str(b, "\n");
			if (msg)
				ob_str(b, "\n");
		}
		if (msg) {
			ob_str(b, msg);
			ob_str(b, "\n");
		}
		if (form == FORM_LONG && http_url(url)) {
			ob_str(b, "\n");
			ob_str(b, url);
			ob_str(b, "\n");
		}
		if (json_is_object(meta) && json_object_size(meta) > 0) {
			if (b->len > 0)
				ob_str(b, "\n");
			ob_str(b, "Details:\n");
			json_object_foreach((json_t *)meta, key, v) {
				ob_str(b, "  ");
				ob_str(b, key);
				ob_str(b, ": ");
				ob_value(b, v, GH_TMPL_PLAIN);
				ob_str(b, "\n");
			}
		}
		if (form == FORM_LONG) {
			ob_str(b, "\n-- \n");
			fallback_footer(b, ev, GH_TMPL_PLAIN);
			ob_str(b, "\n");
		}
		return;
	}
	ob_str(b, "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>");
	title = title ? title : type ? type : "Notification";
	ob_escaped(b, title, strlen(title), GH_TMPL_HTML);
	ob_str(b, "</h2>\n");
	if (msg) {
		ob_str(b, "<p>");
		ob_escaped(b, msg, strlen(msg), ESC_HTML_BR);
		ob_str(b, "</p>\n");
	}
	if (http_url(url)) {
		ob_str(b, "<p><a href=\"");
		ob_escaped(b, url, strlen(url), GH_TMPL_HTML);
		ob_str(b, "\">");
		ob_escaped(b, url, strlen(url), GH_TMPL_HTML);
		ob_str(b, "</a></p>\n");
	}
	if (json_is_object(meta) && json_object_size(meta) > 0) {
		ob_str(b, "<table>\n");
		json_object_foreach((json_t *)meta, key, v) {
			ob_str(b, "<tr><td>");
			ob_escaped(b, key, strlen(key), GH_TMPL_HTML);
			ob_str(b, "</td><td>");
			ob_value(b, v, GH_TMPL_HTML);
			ob_str(b, "</td></tr>\n");
		}
		ob_str(b, "</table>\n");
	}
	ob_str(b, "<p style=\"color:#777;font-size:small\">");
	fallback_footer(b, ev, GH_TMPL_HTML);
	ob_str(b, "</p>\n</body></html>\n");
}

/* one_line - a subject: line breaks and tabs to spaces, trimmed. */
static void
one_line(struct obuf *b)
{
	size_t i, s = 0, e;

	for (i = 0; i < b->len; i++)
		if (b->p[i] == '\r' || b->p[i] == '\n' || b->p[i] == '\t')
			b->p[i] = ' ';
	while (s < b->len && b->p[s] == ' ')
		s++;
	e = b->len;
	while (e > s && b->p[e - 1] == ' ')
		e--;
	memmove(b->p, b->p + s, e - s);
	b->len = e - s;
}

gh_err
nd_tmpl_render_part(const struct nd_tmpl_set *set, const char *lang,
                    const char *deflang, const json_t *ev,
                    const char *instance, const char *kind,
                    enum nd_tmpl_part part, size_t max, char **out,
                    int *fallback_used, int *truncated)
{
	struct obuf b = {0};
	const char *t;
	size_t tlen = 0;

	if (set == NULL || out == NULL || max == 0 || max >= SIZE_MAX / 2)
		return GH_EINVAL;
	*out = NULL;
	b.max = max;
	t = nd_tmpl_find(set, lang, deflang, ev_str(ev, "type"), instance, kind,
	                 part, &tlen, NULL);
	if (fallback_used)
		*fallback_used = t == NULL;
	if (t)
		render_into(&b, t, tlen, ev,
		            part == GH_TMPL_HTML_BODY ? GH_TMPL_HTML : GH_TMPL_PLAIN);
	else
		fallback(&b, ev, kind, part);
	if (part == GH_TMPL_SUBJECT && b.p)
		one_line(&b);
	return ob_finish(&b, out, NULL, truncated);
}
