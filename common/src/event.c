/*
 * event.c - the event builder (gatehouse/event.h).
 *
 * A thin layer over a jansson object: the setters record, the check is
 * gh_event_validate()'s (queue_check.c), never a copy of it here.  The
 * first error sticks, so that producers can make their calls in a row.
 */
#include <stdlib.h>
#include <string.h>

#include "gatehouse/event.h"
#include "detail_int.h"

struct gh_event {
	json_t *obj;
	gh_err err;          /* the first setter's error */
	char detail[160];    /* and what it was about */
};

struct gh_event *
gh_event_new(void)
{
	struct gh_event *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->obj = json_object();
	if (b->obj == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

void
gh_event_free(struct gh_event *b)
{
	if (b == NULL)
		return;
	json_decref(b->obj);
	free(b);
}

/* Keep the first error (and its words); return the one that sticks. */
static gh_err
fail(struct gh_event *b, gh_err err, const char *what, const char *name)
{
	if (b->err == GH_OK) {
		b->err = err;
		gh_detail(b->detail, sizeof(b->detail), err, "%s '%s'%s", what,
		          name, err == GH_ENOMEM ? ": out of memory" :
		          " is not valid UTF-8");
	}
	return b->err;
}

/* NULL (gh_event_new() out of memory) or an earlier error: what to return. */
static gh_err
unusable(const struct gh_event *b)
{
	return b == NULL ? GH_ENOMEM : b->err;
}

/*
 * A JSON string of s.  jansson says NULL both for bytes that are not
 * UTF-8 and for want of memory; the unchecked constructor tells which.
 */
static gh_err
mkstr(const char *s, json_t **out)
{
	json_t *j;

	*out = json_string(s);
	if (*out)
		return GH_OK;
	j = json_string_nocheck(s);
	if (j == NULL)
		return GH_ENOMEM;
	json_decref(j);
	return GH_EINVAL;
}

static gh_err
set_str(struct gh_event *b, const char *field, const char *val)
{
	json_t *j;
	gh_err err;

	if (unusable(b))
		return unusable(b);
	if (val == NULL) {
		json_object_del(b->obj, field);
		return GH_OK;
	}
	err = mkstr(val, &j);
	if (err)
		return fail(b, err, "field", field);
	if (json_object_set_new(b->obj, field, j) != 0)
		return fail(b, GH_ENOMEM, "field", field);
	return GH_OK;
}

/* The string setters differ only in the field they set. */
#define STR_SETTER(name)                                                    \
	gh_err gh_event_set_##name(struct gh_event *b, const char *val)     \
	{                                                                   \
		return set_str(b, #name, val);                              \
	}

STR_SETTER(type)
STR_SETTER(title)
STR_SETTER(message)
STR_SETTER(user)
STR_SETTER(category)
STR_SETTER(source)
STR_SETTER(action_url)
STR_SETTER(dedup_key)

static gh_err
set_int(struct gh_event *b, const char *field, int64_t v)
{
	if (unusable(b))
		return unusable(b);
	if (json_object_set_new(b->obj, field, json_integer((json_int_t)v)))
		return fail(b, GH_ENOMEM, "field", field);
	return GH_OK;
}

gh_err
gh_event_set_priority(struct gh_event *b, enum gh_priority p)
{
	return set_int(b, "priority", (int64_t)p);
}

gh_err
gh_event_set_expires_at(struct gh_event *b, int64_t ms)
{
	return set_int(b, "expires_at", ms);
}

static gh_err
append(struct gh_event *b, const char *field, const char *val)
{
	json_t *arr, *j;
	gh_err err;

	if (unusable(b))
		return unusable(b);
	if (val == NULL || val[0] == '\0') {
		b->err = gh_detail(b->detail, sizeof(b->detail), GH_EINVAL,
		                   "an empty entry in '%s'", field);
		return b->err;
	}
	arr = json_object_get(b->obj, field);
	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(b->obj, field, arr))
			return fail(b, GH_ENOMEM, "field", field);
	}
	err = mkstr(val, &j);
	if (err)
		return fail(b, err, "an entry of", field);
	if (json_array_append_new(arr, j))
		return fail(b, GH_ENOMEM, "field", field);
	return GH_OK;
}

gh_err
gh_event_add_recipient(struct gh_event *b, const char *recipient)
{
	return append(b, "recipients", recipient);
}

gh_err
gh_event_add_channel(struct gh_event *b, const char *channel)
{
	return append(b, "channels", channel);
}

gh_err
gh_event_meta_new(struct gh_event *b, const char *key, json_t *val)
{
	json_t *md;

	if (b == NULL) {
		json_decref(val);
		return GH_ENOMEM;
	}
	if (b->err) {
		json_decref(val);
		return b->err;
	}
	if (key == NULL || key[0] == '\0') {
		json_decref(val);
		b->err = gh_detail(b->detail, sizeof(b->detail), GH_EINVAL,
		                   "%s", "a metadata key is empty");
		return b->err;
	}
	if (val == NULL)
		return fail(b, GH_ENOMEM, "metadata", key);
	md = json_object_get(b->obj, "metadata");
	if (md == NULL) {
		md = json_object();
		if (md == NULL || json_object_set_new(b->obj, "metadata", md)) {
			json_decref(val);
			return fail(b, GH_ENOMEM, "metadata", key);
		}
	}
	/* a key that is not UTF-8 is refused by jansson (-1, val released) */
	if (json_object_set_new(md, key, val) != 0) {
		json_t *probe = json_string(key);

		json_decref(probe);
		return fail(b, probe ? GH_ENOMEM : GH_EINVAL, "a metadata key",
		            "?");
	}
	return GH_OK;
}

gh_err
gh_event_meta_str(struct gh_event *b, const char *key, const char *val)
{
	json_t *j = NULL;
	gh_err err;

	if (unusable(b))
		return unusable(b);
	if (val == NULL) {
		j = json_null();
	} else {
		err = mkstr(val, &j);
		if (err)
			return fail(b, err, "metadata", key ? key : "?");
	}
	return gh_event_meta_new(b, key, j);
}

gh_err
gh_event_meta_int(struct gh_event *b, const char *key, int64_t val)
{
	if (unusable(b))
		return unusable(b);
	return gh_event_meta_new(b, key, json_integer((json_int_t)val));
}

gh_err
gh_event_set_metadata_new(struct gh_event *b, json_t *obj)
{
	if (unusable(b)) {
		json_decref(obj);
		return unusable(b);
	}
	if (obj == NULL) {
		json_object_del(b->obj, "metadata");
		return GH_OK;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		b->err = gh_detail(b->detail, sizeof(b->detail), GH_EINVAL,
		                   "%s", "metadata must be a JSON object");
		return b->err;
	}
	if (json_object_set_new(b->obj, "metadata", obj))
		return fail(b, GH_ENOMEM, "field", "metadata");
	return GH_OK;
}

gh_err
gh_event_set_metadata(struct gh_event *b, const json_t *obj)
{
	json_t *copy;

	if (unusable(b) || obj == NULL)
		return gh_event_set_metadata_new(b, NULL);
	copy = json_deep_copy(obj);
	if (copy == NULL)
		return fail(b, GH_ENOMEM, "field", "metadata");
	return gh_event_set_metadata_new(b, copy);
}

gh_err
gh_event_finish(struct gh_event *b, json_t **out, char *detail, size_t dlen)
{
	gh_err err;

	*out = NULL;
	if (detail && dlen)
		detail[0] = '\0';
	if (b == NULL)
		return gh_detail(detail, dlen, GH_ENOMEM, "%s", "out of memory");
	if (b->err) {
		err = gh_detail(detail, dlen, b->err, "%s", b->detail);
		goto cleanup;
	}
	err = gh_event_validate(b->obj, detail, dlen);
	if (err == GH_OK)
		*out = json_incref(b->obj);
cleanup:
	gh_event_free(b);
	return err;
}
