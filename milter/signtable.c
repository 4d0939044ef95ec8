/*
 * signtable.c - the signing table: key directory plus [dkim.NAME] sections,
 * and the From-domain lookup (see signtable.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "addr.h"
#include "dkim/dkim_sighdr.h"
#include "signtable.h"

static char *
dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

struct build {
	struct gm_signtable *t;
	size_t cap;
	char *detail;
	size_t detail_len;
	const char *domain;	/* the directory being scanned */
	int64_t now;		/* seconds: when the table is loaded */
};

static gh_err
add_entry(struct build *b, const char *domain, const char *sdid,
          const char *selector, const char *path, int64_t retire_at)
{
	struct gm_signkey *e;
	char ldom[256], lsdid[256];
	gh_err err;

	if (gm_domain_lower(domain, ldom, sizeof(ldom)) != GH_OK ||
	    gm_domain_lower(sdid, lsdid, sizeof(lsdid)) != GH_OK ||
	    !gm_dkim_name_ok(ldom) || !gm_dkim_name_ok(lsdid) ||
	    !gm_dkim_name_ok(selector)) {
		snprintf(b->detail, b->detail_len, "%s: bad domain '%s' or "
		         "selector '%s'", path, domain, selector);
		return GH_ECONFIG;
	}
	if (b->t->n == GH_SIGNTABLE_MAX) {
		snprintf(b->detail, b->detail_len, "more than %d signing keys",
		         GH_SIGNTABLE_MAX);
		return GH_ETOOBIG;
	}
	if (b->t->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 8;
		struct gm_signkey *nv = realloc(b->t->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return GH_ENOMEM;
		b->t->v = nv;
		b->cap = ncap;
	}
	e = &b->t->v[b->t->n];
	memset(e, 0, sizeof(*e));
	/* A key past its retire time never signs again (the clock only moves
	 * on): its entry stays, so the domain keeps its own (retired) keys
	 * rather than falling back to a parent's, but the private key is not
	 * read -- not kept in memory for nothing, and an old file that no
	 * longer loads cannot stop the table from loading. */
	if (retire_at == 0 || retire_at > b->now) {
		err = gh_dkim_key_load(path, &e->key, b->detail,
		                       b->detail_len);
		if (err)
			return err;
	}
	e->domain = dupstr(ldom);
	e->sdid = dupstr(lsdid);
	e->selector = dupstr(selector);
	e->path = dupstr(path);
	e->retire_at = retire_at;
	b->t->n++;	/* owned by the table from here, even half-filled */
	if (!e->domain || !e->sdid || !e->selector || !e->path)
		return GH_ENOMEM;
	return GH_OK;
}

gh_err
gm_keydir_read_retire(const char *path, int64_t *at)
{
	char buf[64];
	char *end;
	size_t n;
	long long v;
	gh_err err;

	err = gh_file_read_into(path, 0, buf, sizeof(buf), &n, NULL, 0);
	if (err == GH_ETOOBIG || (err == GH_OK && n == 0))
		return GH_EINVAL;
	if (err)
		return err;
	errno = 0;
	v = strtoll(buf, &end, 10);
	while (*end == '\n' || *end == ' ' || *end == '\r')
		end++;
	if (end == buf || *end != '\0' || errno || v <= 0)
		return GH_EINVAL;
	*at = v;
	return GH_OK;
}

gh_err
gm_keydir_scan(const char *domain_dir, gm_keydir_fn fn, void *arg)
{
	struct dirent *de;
	gh_err err = GH_OK;
	DIR *d = opendir(domain_dir);

	if (d == NULL)
		return errno == ENOENT || errno == ENOTDIR ? GH_ENOTFOUND :
		    errno == EACCES ? GH_EACCES : GH_EIO;
	while (err == GH_OK && (de = readdir(d)) != NULL) {
		char sel[256], path[PATH_MAX], rpath[PATH_MAX];
		size_t n = strlen(de->d_name);
		int64_t retire = 0;
		gh_err rerr;

		if (de->d_name[0] == '.' || n <= 4 ||
		    strcmp(de->d_name + n - 4, ".key") != 0 ||
		    n - 4 >= sizeof(sel))
			continue;
		memcpy(sel, de->d_name, n - 4);
		sel[n - 4] = '\0';
		if (snprintf(path, sizeof(path), "%s/%s", domain_dir,
		             de->d_name) >= (int)sizeof(path) ||
		    snprintf(rpath, sizeof(rpath), "%s/%s.retire", domain_dir,
		             sel) >= (int)sizeof(rpath)) {
			err = GH_ETOOBIG;
			break;
		}
		rerr = gm_keydir_read_retire(rpath, &retire);
		if (rerr == GH_ENOTFOUND)
			retire = 0;
		else if (rerr)
			retire = 1;	/* unreadable marker: treat as retired */
		err = fn(sel, path, retire, arg);
	}
	closedir(d);
	return err;
}

static gh_err
dir_key(const char *selector, const char *path, int64_t retire_at, void *arg)
{
	struct build *b = arg;

	return add_entry(b, b->domain, b->domain, selector, path, retire_at);
}

static gh_err
load_key_dir(struct build *b, const char *key_dir)
{
	struct dirent *de;
	gh_err err = GH_OK;
	DIR *d = opendir(key_dir);

	if (d == NULL) {
		if (errno == ENOENT)
			return GH_OK;
		snprintf(b->detail, b->detail_len, "%s: %s", key_dir,
		         strerror(errno));
		return errno == EACCES ? GH_EACCES : GH_EIO;
	}
	while (err == GH_OK && (de = readdir(d)) != NULL) {
		char sub[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", key_dir, de->d_name) >=
		    (int)sizeof(sub))
			continue;
		b->domain = de->d_name;
		err = gm_keydir_scan(sub, dir_key, b);
		if (err == GH_ENOTFOUND)	/* a plain file: not a domain */
			err = GH_OK;
		else if (err && !b->detail[0])
			snprintf(b->detail, b->detail_len, "%s: %s", sub,
			         gh_strerror(err));
	}
	closedir(d);
	return err;
}

struct sections {
	struct build *b;
	const struct gh_conf *conf;
	gh_err err;
};

static void
section_key(const char *name, void *arg)
{
	struct sections *s = arg;
	const char *dom, *sel, *file, *sdid;

	if (s->err)
		return;
	dom = gh_conf_str(s->conf, name, "domain");
	sel = gh_conf_str(s->conf, name, "selector");
	file = gh_conf_str(s->conf, name, "key_file");
	sdid = gh_conf_str(s->conf, name, "signing_domain");
	if (!dom || !sel || !file) {
		snprintf(s->b->detail, s->b->detail_len, "[%s] needs domain, "
		         "selector and key_file", name);
		s->err = GH_ECONFIG;
		return;
	}
	s->err = add_entry(s->b, dom, sdid ? sdid : dom, sel, file, 0);
}

gh_err
gm_signtable_load(const struct gh_conf *conf, struct gm_signtable **out,
                  char *detail, size_t detail_len)
{
	struct build b;
	struct sections s;
	char scratch[8];
	gh_err err;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.detail = detail ? detail : scratch;
	b.detail_len = detail ? detail_len : sizeof(scratch);
	b.detail[0] = '\0';
	b.now = (int64_t)time(NULL);
	b.t = calloc(1, sizeof(*b.t));
	if (b.t == NULL)
		return GH_ENOMEM;
	err = load_key_dir(&b, gh_conf_str(conf, "dkim", "key_dir"));
	if (err)
		goto cleanup;
	s.b = &b;
	s.conf = conf;
	s.err = GH_OK;
	gh_conf_sections(conf, "dkim.", section_key, &s);
	err = s.err;
cleanup:
	if (err) {
		gm_signtable_free(b.t);
		return err;
	}
	*out = b.t;
	return GH_OK;
}

void
gm_signtable_free(struct gm_signtable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		gh_dkim_key_free(t->v[i].key);
		free(t->v[i].domain);
		free(t->v[i].sdid);
		free(t->v[i].selector);
		free(t->v[i].path);
	}
	free(t->v);
	free(t);
}

size_t
gm_signtable_find(const struct gm_signtable *t, const char *domain,
                  int subdomains, int64_t now, const struct gm_signkey **out,
                  size_t max)
{
	const char *d = domain;
	size_t n = 0;

	if (t == NULL || domain == NULL)
		return 0;
	while (d && *d) {
		int listed = 0;

		for (size_t i = 0; i < t->n && n < max; i++) {
			const struct gm_signkey *e = &t->v[i];

			if (strcasecmp(e->domain, d) != 0)
				continue;
			/* a domain whose keys are all retired is still the
			 * domain's entry: no fallback to its parent's keys */
			listed = 1;
			if (e->key == NULL ||
			    (e->retire_at != 0 && now >= e->retire_at))
				continue;
			out[n++] = e;
		}
		if (listed || !subdomains)
			break;
		d = strchr(d, '.');
		if (d)
			d++;
		/* never fall back to a top-level domain's keys */
		if (d && strchr(d, '.') == NULL)
			break;
	}
	return n;
}
