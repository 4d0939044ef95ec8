/*
 * domain.c - trust domains: names, their stores in the configuration, and
 * what the core accepts from each (gatehouse/domain.h).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/domain.h"
#include "gatehouse/queue.h"
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
#define DOMAIN_PRIORITY_MAX 3

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

gh_err
gh_domain_accept(enum gh_domain d, const json_t *ev, json_t **out,
                 char *detail, size_t dlen)
{
	const char *type, *key;
	json_t *copy = NULL;
	gh_err err;

	*out = NULL;
	if ((unsigned)d >= GH_DOMAIN_COUNT_ || d == GH_DOMAIN_CORE)
		return GH_EINVAL;
	err = gh_event_validate(ev, detail, dlen);
	if (err)
		return err == GH_ETOOBIG ? GH_EINVAL : err;
	type = json_string_value(json_object_get(ev, "type"));
	if (strncmp(type, domains[d].prefix, strlen(domains[d].prefix)) != 0)
		return gh_detail(detail, dlen, GH_EINVAL, "the %s domain may "
		                 "raise only %s* events, not '%s'",
		                 domains[d].name, domains[d].prefix, type);
	/* Who is told, and how, is the core's to decide: a producer names
	 * its user, or the admins, and nothing else (a compromised web server
	 * must not mail or text arbitrary addresses as Gatehouse). */
	if (json_object_get(ev, "channels") != NULL ||
	    json_object_get(ev, "action_url") != NULL)
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
	copy = json_deep_copy(ev);
	if (copy == NULL)
		return GH_ENOMEM;
	if (json_object_set_new(copy, "source",
	                        json_string(domains[d].source)) != 0 ||
	    json_object_set_new(copy, "category",
	                        json_string(gh_event_default_category(type)))
	    != 0)
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
		if (n > 400) {
			n = 400;
			while (n > 0 && ((unsigned char)k[n] & 0xc0) == 0x80)
				n--;
			k[n] = '\0';
		}
		if (json_object_set_new(copy, "dedup_key", json_string(k)) != 0)
			goto nomem;
	}
	*out = copy;
	return GH_OK;
nomem:
	json_decref(copy);
	return GH_ENOMEM;
}
