/*
 * domain.c - trust domains: names, their stores in the configuration, and
 * what the core accepts from each (gatehouse/domain.h).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/domain.h"
#include "gatehouse/queue.h"
#include "gatehouse/text.h"
#include "detail_int.h"

static const struct {
	const char *name;
	const char *source;     /* stamped on its events */
	const char *prefix;     /* event types it may raise */
	const char *path_key;   /* [store] key of its store */
	const char *owner_key;  /* [store] key of its store's owner */
} domains[GH_DOMAIN_COUNT_] = {
	[GH_DOMAIN_CORE] = {"core", NULL, NULL, "path", "owner"},
	[GH_DOMAIN_MAIL] = {"mail", "milter", "mail.", "mail", "mail_owner"},
	[GH_DOMAIN_WEB] = {"web", "nginx", "upload.", "web", "web_owner"},
	[GH_DOMAIN_LOGIN] = {"login", "pam", "login.", "login",
	                     "login_owner"},
};

/* The highest priority a producer domain may give: "high".  "urgent" goes
 * through quiet hours, and is for the admin's own events. */
#define DOMAIN_PRIORITY_MAX GH_PRIORITY_HIGH

const char *
gh_domain_name(enum gh_domain d)
{
	return (unsigned)d < GH_DOMAIN_COUNT_ ? domains[d].name : "?";
}

int
gh_domain_lookup(const char *name)
{
	for (int i = 0; name != NULL && i < GH_DOMAIN_COUNT_; i++)
		if (strcmp(domains[i].name, name) == 0)
			return i;
	return -1;
}

const char *
gh_domain_source(enum gh_domain d)
{
	return (unsigned)d < GH_DOMAIN_COUNT_ ? domains[d].source : NULL;
}

void
gh_conf_domain_store_opts(const struct gh_conf *conf, enum gh_domain d,
                          struct gh_store_opts *o, int *shared)
{
	const char *p = NULL;

	gh_conf_store_opts(conf, o);
	if ((unsigned)d < GH_DOMAIN_COUNT_ && d != GH_DOMAIN_CORE)
		p = gh_conf_str(conf, "store", domains[d].path_key);
	if (p != NULL && *p != '\0' && strcmp(p, o->path) != 0) {
		o->path = p;
		if (shared)
			*shared = 0;
	} else if (shared) {
		*shared = 1;
	}
}

const char *
gh_conf_domain_owner(const struct gh_conf *conf, enum gh_domain d)
{
	const char *s;

	if ((unsigned)d >= GH_DOMAIN_COUNT_)
		return "";
	s = gh_conf_str(conf, "store", domains[d].owner_key);
	return s ? s : "";
}

/* Types no pattern can give the web domain: the other parts' own. */
static const char *const reserved_types[] = {
	"mail.*", "login.*", "upload.*", "store.*", "digest",
};

int
gh_domain_policy_type(const struct gh_domain_policy *p, const char *type)
{
	size_t i;

	if (p == NULL || type == NULL)
		return 0;
	for (i = 0; i < sizeof(reserved_types) / sizeof(reserved_types[0]);
	     i++)
		if (fnmatch(reserved_types[i], type, 0) == 0)
			return 0;
	for (i = 0; i < p->ntypes; i++)
		if (fnmatch(p->types[i], type, 0) == 0)
			return 1;
	return 0;
}

int
gh_domain_type_pattern_ok(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || n == 0 || n > GH_POLICY_TYPE_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-' || s[i] == '*' || s[i] == '?'))
			return 0;
	return 1;
}

/* The next word of a list value (spaces or commas between), into w. */
static const char *
next_word(const char *s, char *w, size_t cap, size_t *len)
{
	size_t n = 0;

	while (*s == ' ' || *s == ',' || *s == '\t')
		s++;
	while (*s != '\0' && *s != ' ' && *s != ',' && *s != '\t') {
		if (n < cap - 1)
			w[n] = *s;
		n++;
		s++;
	}
	w[n < cap - 1 ? n : cap - 1] = '\0';
	*len = n;
	return s;
}

static int
prefix_ok(const char *u)
{
	const char *host;

	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else
		return 0;
	/* a host, then the first '/' of the path: nothing after the host can
	 * lengthen it (no userinfo, no port trickery past it) */
	if (*host == '\0' || *host == '/')
		return 0;
	for (; *host != '\0' && *host != '/'; host++)
		if (*host == '@' || *host == '\\' || (unsigned char)*host <= ' ')
			return 0;
	for (const char *c = host; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c == 0x7f)
			return 0;
	return *host == '/';
}

gh_err
gh_domain_policy_load(const struct gh_conf *conf, struct gh_domain_policy *p,
                      char *detail, size_t dlen)
{
	const char *s;
	char w[GH_POLICY_PREFIX_LEN + 2];
	size_t n;

	memset(p, 0, sizeof(*p));
	s = gh_conf_str(conf, "events_api", "types");
	for (;;) {
		if (s == NULL || (s = next_word(s, w, sizeof(w), &n), n == 0))
			break;

		if (p->ntypes == GH_POLICY_TYPES_MAX)
			return gh_detail(detail, dlen, GH_ECONFIG, "%s: "
			                 "[events_api] types: more than %d "
			                 "patterns", gh_conf_source(conf),
			                 GH_POLICY_TYPES_MAX);
		if (!gh_domain_type_pattern_ok(w, n))
			return gh_detail(detail, dlen, GH_ECONFIG, "%s: "
			                 "[events_api] types: '%s' is not a "
			                 "pattern of event types (1-%d of "
			                 "a-z 0-9 . _ - * ?)", gh_conf_source(conf),
			                 w, GH_POLICY_TYPE_LEN);
		memcpy(p->types[p->ntypes++], w, n + 1);
	}
	s = gh_conf_str(conf, "events_api", "action_url_prefix");
	for (;;) {
		if (s == NULL || (s = next_word(s, w, sizeof(w), &n), n == 0))
			break;
		if (p->nprefixes == GH_POLICY_PREFIXES_MAX)
			return gh_detail(detail, dlen, GH_ECONFIG, "%s: "
			                 "[events_api] action_url_prefix: more "
			                 "than %d prefixes", gh_conf_source(conf),
			                 GH_POLICY_PREFIXES_MAX);
		if (n > GH_POLICY_PREFIX_LEN || !prefix_ok(w))
			return gh_detail(detail, dlen, GH_ECONFIG, "%s: "
			                 "[events_api] action_url_prefix: '%s' "
			                 "is not an http:// or https:// URL with "
			                 "a '/' after its host (at most %d bytes)",
			                 gh_conf_source(conf), w,
			                 GH_POLICY_PREFIX_LEN);
		memcpy(p->prefixes[p->nprefixes++], w, n + 1);
	}
	return GH_OK;
}

gh_err
gh_domain_accept(enum gh_domain d, const json_t *ev, json_t **out,
                 char *detail, size_t dlen)
{
	return gh_domain_accept_policy(d, NULL, ev, out, detail, dlen);
}

gh_err
gh_domain_accept_policy(enum gh_domain d, const struct gh_domain_policy *p,
                        const json_t *ev, json_t **out, char *detail,
                        size_t dlen)
{
	const char *type, *key, *source, *category;
	json_t *copy = NULL;
	int app = 0;
	gh_err err;

	*out = NULL;
	if ((unsigned)d >= GH_DOMAIN_COUNT_ || d == GH_DOMAIN_CORE)
		return GH_EINVAL;
	err = gh_event_validate(ev, detail, dlen);
	if (err)
		return err == GH_ETOOBIG ? GH_EINVAL : err;
	type = json_string_value(json_object_get(ev, "type"));
	source = domains[d].source;
	category = gh_event_default_category(type);
	if (d == GH_DOMAIN_WEB && gh_domain_policy_type(p, type))
		app = 1;
	if (!app &&
	    strncmp(type, domains[d].prefix, strlen(domains[d].prefix)) != 0)
		return gh_detail(detail, dlen, GH_EINVAL, "the %s domain may "
		                 "raise only %s* events%s, not '%s'",
		                 domains[d].name, domains[d].prefix,
		                 d == GH_DOMAIN_WEB ? " and [events_api] types"
		                                    : "", type);
	/* Who is told, and how, is the core's to decide: a producer names
	 * its user, or the admins, and nothing else (a compromised web server
	 * must not mail or text arbitrary addresses as Gatehouse). */
	if (json_object_get(ev, "channels") != NULL ||
	    (!app && json_object_get(ev, "action_url") != NULL))
		return gh_detail(detail, dlen, GH_EINVAL, "the %s domain may "
		                 "not choose channels or links",
		                 domains[d].name);
	{
		const json_t *r = json_object_get(ev, "recipients");
		size_t i;
		json_t *v;

		json_array_foreach(r, i, v)
			if (!json_is_string(v) ||
			    strcmp(json_string_value(v), "admins") != 0)
				return gh_detail(detail, dlen, GH_EINVAL, "the "
				                 "%s domain may address its user "
				                 "or \"admins\" only",
				                 domains[d].name);
	}
	if (app) {
		/* An application's event: its own category and link, within
		 * what the core allows the web domain. */
		const char *c = json_string_value(json_object_get(ev,
		                                                  "category"));
		const char *u = json_string_value(json_object_get(ev,
		                                                  "action_url"));
		size_t i;

		if (c != NULL && strcmp(c, "security") == 0)
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "field 'category': the web domain may "
			                 "not raise security notices (users "
			                 "cannot turn those off)");
		if (c != NULL)
			category = c;
		for (i = 0; u != NULL && i < p->nprefixes; i++)
			if (strncmp(u, p->prefixes[i],
			            strlen(p->prefixes[i])) == 0)
				break;
		if (u != NULL && i == p->nprefixes)
			return gh_detail(detail, dlen, GH_EINVAL, "field "
			                 "'action_url' must start with %s "
			                 "([events_api] action_url_prefix)",
			                 p->nprefixes ? p->prefixes[0] :
			                 "a configured prefix (none is)");
		source = "app";
	}
	copy = json_deep_copy(ev);
	if (copy == NULL)
		return GH_ENOMEM;
	if (json_object_set_new(copy, "source", json_string(source)) != 0 ||
	    json_object_set_new(copy, "category", json_string(category)) != 0)
		goto nomem;
	if (json_integer_value(json_object_get(copy, "priority")) >
	    DOMAIN_PRIORITY_MAX &&
	    json_object_set_new(copy, "priority",
	                        json_integer(DOMAIN_PRIORITY_MAX)) != 0)
		goto nomem;
	key = json_string_value(json_object_get(ev, "dedup_key"));
	if (key != NULL) {
		char k[512];
		int n = snprintf(k, sizeof(k), "%s:%s", domains[d].name, key);

		/* 400 bytes at most, cut on a UTF-8 boundary */
		if (n > 400)
			k[gh_utf8_cut(k, (size_t)n, 400)] = '\0';
		if (json_object_set_new(copy, "dedup_key", json_string(k)) != 0)
			goto nomem;
	}
	*out = copy;
	return GH_OK;
nomem:
	json_decref(copy);
	return GH_ENOMEM;
}
