/*
 * test_event.c - unit tests of the event builder (gatehouse/event.h,
 * common/src/event.c): what it builds, that gh_event_finish() refuses
 * what gh_event_validate() refuses (each bound, priority, required
 * members), and that the first error sticks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/event.h"

/* A builder with the members every event needs. */
static struct gh_event *
base(void)
{
	struct gh_event *b = gh_event_new();

	assert_non_null(b);
	assert_int_equal(gh_event_set_type(b, "login.new_host"), GH_OK);
	assert_int_equal(gh_event_set_title(b, "New login"), GH_OK);
	assert_int_equal(gh_event_set_user(b, "alice"), GH_OK);
	return b;
}

/* Finish b expecting want; detail must contain needle (when given). */
static json_t *
finish(struct gh_event *b, gh_err want, const char *needle)
{
	char d[256] = "x";
	json_t *ev = (json_t *)1;
	gh_err err = gh_event_finish(b, &ev, d, sizeof(d));

	if (err != want)
		fail_msg("finish: %s (%s), wanted %s", gh_strerror(err), d,
		         gh_strerror(want));
	if (want != GH_OK) {
		assert_null(ev);
		if (needle && strstr(d, needle) == NULL)
			fail_msg("detail '%s' lacks '%s'", d, needle);
		return NULL;
	}
	assert_non_null(ev);
	assert_string_equal(d, "");
	return ev;
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_valid(void **state)
{
	struct gh_event *b = base();
	json_t *ev, *md;
	char *dump;

	(void)state;
	gh_event_set_category(b, "security");
	gh_event_set_message(b, "from 192.0.2.1");
	gh_event_set_source(b, "pam");
	gh_event_set_priority(b, GH_PRIORITY_HIGH);
	gh_event_set_action_url(b, "https://example.org/a");
	gh_event_set_dedup_key(b, "login.new_host:alice:192.0.2.0/24");
	gh_event_set_expires_at(b, 1700000000000LL);
	gh_event_add_channel(b, "mail");
	gh_event_add_recipient(b, "admins");
	gh_event_add_recipient(b, "mail:bob@example.org");
	gh_event_meta_str(b, "host", "h1");
	gh_event_meta_str(b, "rhost", NULL);
	gh_event_meta_int(b, "count", 7);
	gh_event_meta_new(b, "ok", json_true());
	ev = finish(b, GH_OK, NULL);
	/* members in the order set, nothing added */
	dump = json_dumps(ev, JSON_COMPACT);
	assert_string_equal(dump,
	    "{\"type\":\"login.new_host\",\"title\":\"New login\","
	    "\"user\":\"alice\",\"category\":\"security\","
	    "\"message\":\"from 192.0.2.1\",\"source\":\"pam\","
	    "\"priority\":3,\"action_url\":\"https://example.org/a\","
	    "\"dedup_key\":\"login.new_host:alice:192.0.2.0/24\","
	    "\"expires_at\":1700000000000,\"channels\":[\"mail\"],"
	    "\"recipients\":[\"admins\",\"mail:bob@example.org\"],"
	    "\"metadata\":{\"host\":\"h1\",\"rhost\":null,\"count\":7,"
	    "\"ok\":true}}");
	free(dump);
	md = json_object_get(ev, "metadata");
	assert_true(json_is_null(json_object_get(md, "rhost")));
	json_decref(ev);

	/* recipients instead of a user; NULL removes a member */
	b = gh_event_new();
	gh_event_set_type(b, "upload.storage_full");
	gh_event_set_title(b, "full");
	gh_event_set_user(b, "carol");
	gh_event_set_user(b, NULL);
	gh_event_add_recipient(b, "admins");
	ev = finish(b, GH_OK, NULL);
	assert_null(json_object_get(ev, "user"));
	json_decref(ev);

	/* a whole metadata object, copied */
	{
		json_t *m = json_pack("{s:s}", "slot", "x");

		b = base();
		assert_int_equal(gh_event_set_metadata(b, m), GH_OK);
		gh_event_meta_int(b, "n", 1);
		ev = finish(b, GH_OK, NULL);
		assert_null(json_object_get(m, "n"));   /* the caller's, untouched */
		assert_int_equal(json_integer_value(json_object_get(
		    json_object_get(ev, "metadata"), "n")), 1);
		json_decref(m);
		json_decref(ev);
	}
}

static void
test_limits(void **state)
{
	static const struct {
		const char *field;
		size_t max;
		gh_err (*set)(struct gh_event *, const char *);
	} f[] = {
		{"type", GH_EVENT_TYPE_MAX, gh_event_set_type},
		{"title", GH_EVENT_TITLE_MAX, gh_event_set_title},
		{"user", GH_EVENT_USER_MAX, gh_event_set_user},
		{"category", GH_EVENT_CATEGORY_MAX, gh_event_set_category},
		{"message", GH_EVENT_MESSAGE_MAX, gh_event_set_message},
		{"action_url", GH_EVENT_ACTION_URL_MAX, gh_event_set_action_url},
		{"source", GH_EVENT_SOURCE_MAX, gh_event_set_source},
		{"dedup_key", GH_EVENT_DEDUP_KEY_MAX, gh_event_set_dedup_key},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char *s = repeat('a', f[i].max);
		char needle[64];
		struct gh_event *b = base();
		json_t *ev;

		/* at the bound: taken */
		assert_int_equal(f[i].set(b, s), GH_OK);
		ev = finish(b, GH_OK, NULL);
		assert_int_equal(json_string_length(json_object_get(ev,
		                 f[i].field)), f[i].max);
		json_decref(ev);
		free(s);

		/* one past: refused, naming the field */
		s = repeat('a', f[i].max + 1);
		b = base();
		assert_int_equal(f[i].set(b, s), GH_OK);   /* checked at finish */
		snprintf(needle, sizeof(needle), "'%s'", f[i].field);
		finish(b, GH_EINVAL, needle);
		free(s);
	}
}

static void
test_refused(void **state)
{
	struct gh_event *b;

	(void)state;
	/* priority outside 1..4, either side */
	b = base();
	gh_event_set_priority(b, (enum gh_priority)0);
	finish(b, GH_EINVAL, "'priority'");
	b = base();
	gh_event_set_priority(b, (enum gh_priority)(GH_PRIORITY_URGENT + 1));
	finish(b, GH_EINVAL, "'priority'");
	b = base();
	gh_event_set_priority(b, GH_PRIORITY_URGENT);
	json_decref(finish(b, GH_OK, NULL));

	/* missing type, bad type characters, missing title, empty title */
	b = base();
	gh_event_set_type(b, NULL);
	finish(b, GH_EINVAL, "'type' is required");
	b = base();
	gh_event_set_type(b, "Login.New");
	finish(b, GH_EINVAL, "'type'");
	b = base();
	gh_event_set_title(b, NULL);
	finish(b, GH_EINVAL, "'title' is required");
	b = base();
	gh_event_set_title(b, "");
	finish(b, GH_EINVAL, "'title' is required");

	/* neither user nor recipients */
	b = base();
	gh_event_set_user(b, NULL);
	finish(b, GH_EINVAL, "'user' or 'recipients'");

	/* category out of its alphabet, empty dedup key */
	b = base();
	gh_event_set_category(b, "Security");
	finish(b, GH_EINVAL, "'category'");
	b = base();
	gh_event_set_dedup_key(b, "");
	finish(b, GH_EINVAL, "'dedup_key'");

	/* the whole event over its size (metadata has no bound of its own) */
	{
		char *big = repeat('m', GH_RECORD_MAX / 4);

		b = base();
		gh_event_meta_str(b, "blob", big);
		finish(b, GH_ETOOBIG, "bytes");
		free(big);
	}
}

static void
test_sticky(void **state)
{
	struct gh_event *b;
	json_t *ev = NULL;
	char d[128];

	(void)state;
	/* bytes that are not UTF-8: refused at the setter, and it sticks */
	b = base();
	assert_int_equal(gh_event_set_title(b, "caf\xe9"), GH_EINVAL);
	assert_int_equal(gh_event_set_message(b, "fine"), GH_EINVAL);
	finish(b, GH_EINVAL, "field 'title' is not valid UTF-8");

	b = base();
	assert_int_equal(gh_event_meta_str(b, "name", "\xff"), GH_EINVAL);
	finish(b, GH_EINVAL, "metadata 'name'");

	b = base();
	assert_int_equal(gh_event_add_recipient(b, ""), GH_EINVAL);
	finish(b, GH_EINVAL, "recipients");

	b = base();
	assert_int_equal(gh_event_meta_int(b, "", 1), GH_EINVAL);
	finish(b, GH_EINVAL, "metadata key");

	{
		json_t *one = json_integer(1);

		b = base();
		assert_int_equal(gh_event_set_metadata(b, one), GH_EINVAL);
		finish(b, GH_EINVAL, "object");
		json_decref(one);
	}

	/* a failed json_*() call handed to meta_new */
	b = base();
	assert_int_equal(gh_event_meta_new(b, "x", NULL), GH_ENOMEM);
	finish(b, GH_ENOMEM, "out of memory");

	/* a NULL builder (gh_event_new out of memory) is GH_ENOMEM all along */
	assert_int_equal(gh_event_set_type(NULL, "a"), GH_ENOMEM);
	assert_int_equal(gh_event_meta_new(NULL, "x", json_true()), GH_ENOMEM);
	assert_int_equal(gh_event_finish(NULL, &ev, d, sizeof(d)), GH_ENOMEM);
	assert_null(ev);
	gh_event_free(NULL);

	/* abandoned without finishing */
	b = base();
	gh_event_meta_str(b, "a", "b");
	gh_event_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
