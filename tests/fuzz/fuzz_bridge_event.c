/*
 * fuzz_bridge_event.c - libFuzzer target for what notifyd's pickup does
 * with a packet a (possibly compromised) producer's bridge sent: parse it
 * as gh_bridge_recv does, and run its "ev" through gh_domain_accept for
 * every producer domain.  Beyond memory errors it checks the promises of
 * gatehouse/domain.h on every accepted event: the domain's own source,
 * its type's category (gh_event_default_category), a type of the domain's, no channels or links, no recipient
 * but "admins", a dedup key carrying the domain's prefix, priority at most
 * 3, and an event gh_event_validate still accepts.  The web domain is
 * also run with an [events_api] policy (gh_domain_accept_policy) that
 * takes every type it can: an application's event must then come out
 * with source "app", never category security, never another part's type,
 * a link only under the prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gatehouse/bridge.h"
#include "gatehouse/domain.h"
#include "gatehouse/queue.h"

static const char *const prefix[] = {NULL, "mail.", "upload.", "login."};

static void
check(enum gh_domain d, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *key = json_string_value(json_object_get(ev, "dedup_key"));
	const json_t *r = json_object_get(ev, "recipients");
	size_t i;
	json_t *v;

	if (strcmp(json_string_value(json_object_get(ev, "source")),
	           gh_domain_source(d)) != 0 ||
	    type == NULL ||
	    strcmp(json_string_value(json_object_get(ev, "category")),
	           gh_event_default_category(type)) != 0 ||
	    strncmp(type, prefix[d], strlen(prefix[d])) != 0 ||
	    json_object_get(ev, "channels") != NULL ||
	    json_object_get(ev, "action_url") != NULL ||
	    json_integer_value(json_object_get(ev, "priority")) > 3)
		abort();
	json_array_foreach(r, i, v)
		if (strcmp(json_string_value(v), "admins") != 0)
			abort();
	if (key != NULL && (strncmp(key, gh_domain_name(d),
	                            strlen(gh_domain_name(d))) != 0 ||
	                    key[strlen(gh_domain_name(d))] != ':'))
		abort();
	if (gh_event_validate(ev, NULL, 0) != GH_OK)
		abort();
}

/* What gh_domain_accept_policy promises of an application's event. */
static void
check_app(const json_t *ev)
{
	static const char *const reserved[] = {"mail.", "login.", "upload.",
	                                       "store.", NULL};
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *key = json_string_value(json_object_get(ev, "dedup_key"));
	const char *cat = json_string_value(json_object_get(ev, "category"));
	const char *url = json_string_value(json_object_get(ev, "action_url"));
	const json_t *r = json_object_get(ev, "recipients");
	size_t i;
	json_t *v;

	if (type == NULL || strcmp(type, "digest") == 0 || cat == NULL ||
	    strcmp(cat, "security") == 0 ||
	    strcmp(json_string_value(json_object_get(ev, "source")), "app")
	    != 0 || json_object_get(ev, "channels") != NULL ||
	    json_integer_value(json_object_get(ev, "priority")) > 3 ||
	    (url != NULL && strncmp(url, "https://app.example.org/", 24) != 0)
	    || (key != NULL && strncmp(key, "web:", 4) != 0))
		abort();
	for (i = 0; reserved[i] != NULL; i++)
		if (strncmp(type, reserved[i], strlen(reserved[i])) == 0)
			abort();
	json_array_foreach(r, i, v)
		if (strcmp(json_string_value(v), "admins") != 0)
			abort();
	if (gh_event_validate(ev, NULL, 0) != GH_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *msg, *ev;

	if (size > GH_BRIDGE_MSG_MAX)
		return 0;
	msg = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	                 &jerr);
	if (msg == NULL)
		return 0;
	/* A bare event is tried too, so the corpus need not wrap it. */
	ev = json_object_get(msg, "ev");
	if (ev == NULL)
		ev = msg;
	for (int d = GH_DOMAIN_MAIL; d < GH_DOMAIN_COUNT_; d++) {
		json_t *out = NULL;
		char detail[256];

		if (gh_domain_accept((enum gh_domain)d, ev, &out, detail,
		                     sizeof(detail)) == GH_OK) {
			check((enum gh_domain)d, out);
			json_decref(out);
		} else if (out != NULL) {
			abort();
		}
	}
	{
		static struct gh_domain_policy pol;
		json_t *out = NULL;
		char detail[256];

		if (pol.ntypes == 0) {
			strcpy(pol.types[0], "*");
			pol.ntypes = 1;
			strcpy(pol.prefixes[0], "https://app.example.org/");
			pol.nprefixes = 1;
		}
		if (gh_domain_accept_policy(GH_DOMAIN_WEB, &pol, ev, &out,
		                            detail, sizeof(detail)) == GH_OK) {
			const char *t = json_string_value(json_object_get(ev,
			                                                  "type"));

			if (strncmp(t, "upload.", 7) == 0)
				check(GH_DOMAIN_WEB, out);
			else
				check_app(out);
			json_decref(out);
		} else if (out != NULL) {
			abort();
		}
	}
	json_decref(msg);
	return 0;
}
