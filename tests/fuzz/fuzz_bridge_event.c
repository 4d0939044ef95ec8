/*
 * fuzz_bridge_event.c - libFuzzer target for what notifyd's pickup does
 * with a packet a (possibly compromised) producer's bridge sent: parse it
 * as gh_bridge_recv does, and run its "ev" through gh_domain_accept for
 * every producer domain.  Beyond memory errors it checks the promises of
 * gatehouse/domain.h on every accepted event: the domain's own source and
 * category, a type of the domain's, no channels or links, no recipient
 * but "admins", a dedup key carrying the domain's prefix, priority at most
 * 3, and an event gh_event_validate still accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gatehouse/bridge.h"
#include "gatehouse/domain.h"
#include "gatehouse/queue.h"

static const char *const prefix[] = {NULL, "mail.", "upload.", "login."};
static const char *const category[] = {NULL, "system", "security",
                                       "security"};

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
	    strcmp(json_string_value(json_object_get(ev, "category")),
	           category[d]) != 0 ||
	    type == NULL || strncmp(type, prefix[d], strlen(prefix[d])) != 0 ||
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
	json_decref(msg);
	return 0;
}
