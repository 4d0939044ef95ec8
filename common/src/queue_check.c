/*
 * queue_check.c - is this object an event: the field contract of
 * gatehouse/queue.h (names, types, bounds, what is required) and the size
 * limit of a stored event.
 *
 * Checked before the write transaction is taken, so that a caller's
 * mistake never makes other writers wait.
 */
#include <string.h>

#include "detail_int.h"
#include "queue_int.h"

static int
word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

gh_err
gh_event_check(const json_t *ev, char *detail, size_t dlen)
{
	static const struct {
		const char *name;
		json_type type;   /* JSON_NULL here means "string or null" etc. */
		size_t max;
	} fields[] = {
		{"type", JSON_STRING, GH_EVENT_TYPE_MAX},
		{"title", JSON_STRING, GH_EVENT_TITLE_MAX},
		{"user", JSON_STRING, GH_EVENT_USER_MAX},
		{"category", JSON_STRING, GH_EVENT_CATEGORY_MAX},
		{"message", JSON_STRING, GH_EVENT_MESSAGE_MAX},
		{"action_url", JSON_STRING, GH_EVENT_ACTION_URL_MAX},
		{"source", JSON_STRING, GH_EVENT_SOURCE_MAX},
		{"dedup_key", JSON_STRING, GH_EVENT_DEDUP_KEY_MAX},
		{"priority", JSON_INTEGER, 0},
		{"metadata", JSON_OBJECT, 0},
		{"channels", JSON_ARRAY, 0},
		{"recipients", JSON_ARRAY, 0},
		{"expires_at", JSON_INTEGER, 0},
	};
	const char *key;
	json_t *val;

	if (detail && dlen)
		detail[0] = '\0';
	if (!json_is_object(ev))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "event is not a JSON object");
	json_object_foreach((json_t *)ev, key, val) {
		size_t i;

		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == sizeof(fields) / sizeof(fields[0]))
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "unknown field '%s'", key);
		if (json_is_null(val) &&
		    (strcmp(key, "expires_at") == 0 ||
		     strcmp(key, "dedup_key") == 0 ||
		     strcmp(key, "action_url") == 0))
			continue;
		if (json_typeof(val) != fields[i].type)
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "field '%s' has the wrong type", key);
		if (fields[i].type == JSON_STRING &&
		    json_string_length(val) > fields[i].max)
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "field '%s' is too long", key);
		if (fields[i].type == JSON_STRING &&
		    strlen(json_string_value(val)) != json_string_length(val))
			return gh_detail(detail, dlen, GH_EINVAL,
			                 "field '%s' contains NUL", key);
	}
	val = json_object_get(ev, "type");
	if (!json_is_string(val) || !word_ok(json_string_value(val), GH_EVENT_TYPE_MAX, "._-"))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "field 'type' is required: [a-z0-9._-], "
		                 "1-64 bytes");
	val = json_object_get(ev, "title");
	if (!json_is_string(val) || json_string_length(val) == 0)
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "field 'title' is required");
	val = json_object_get(ev, "category");
	if (val && !word_ok(json_string_value(val), GH_EVENT_CATEGORY_MAX, "_-"))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "field 'category' must be [a-z0-9_-], 1-32 "
		                 "bytes");
	val = json_object_get(ev, "priority");
	if (val && (json_integer_value(val) < GH_PRIORITY_LOW ||
	            json_integer_value(val) > GH_PRIORITY_URGENT))
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "field 'priority' must be 1 (low) to 4 "
		                 "(urgent)");
	val = json_object_get(ev, "dedup_key");
	if (json_is_string(val) && json_string_length(val) == 0)
		return gh_detail(detail, dlen, GH_EINVAL, "%s",
		                 "field 'dedup_key' is empty");
	{
		json_t *u = json_object_get(ev, "user");
		json_t *r = json_object_get(ev, "recipients");

		if ((!json_is_string(u) || json_string_length(u) == 0) &&
		    json_array_size(r) == 0)
			return gh_detail(detail, dlen, GH_EINVAL, "%s",
			                 "an event needs 'user' or "
			                 "'recipients'");
	}
	return GH_OK;
}

gh_err
gh_event_validate(const json_t *ev, char *detail, size_t dlen)
{
	gh_err err = gh_event_check(ev, detail, dlen);
	size_t size;

	if (err)
		return err;
	size = json_dumpb(ev, NULL, 0, JSON_COMPACT);
	if (size > EVENT_MAX)
		return gh_detail(detail, dlen, GH_ETOOBIG,
		                 "event is %zu bytes, at most %u", size,
		                 (unsigned)EVENT_MAX);
	return GH_OK;
}
