/*
 * test_payload.c - the exact JSON each receiver gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../../notifyd/core/payload.h"
#include "gatehouse/text.h"

static const char ev_json[] =
	"{\"id\":1042,\"type\":\"login.new_host\",\"category\":\"security\","
	"\"user\":\"alice\",\"title\":\"New login to <prod> & co\","
	"\"message\":\"Alice logged in from 192.0.2.7.\",\"priority\":3,"
	"\"action_url\":\"https://example.org/sec?a=1&b=2\",\"source\":\"pam\","
	"\"created_at\":1781101800123,\"expires_at\":null,"
	"\"metadata\":{\"ip\":\"192.0.2.7\"},\"q\":{\"state\":\"leased\"}}";

static json_t *
load(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

/* Build with f, dump compactly (jansson keeps insertion order), compare. */
#define EXPECT(call, want) do { \
		json_t *o_ = NULL; \
		char *s_; \
		assert_int_equal((call), GH_OK); \
		assert_non_null(o_); \
		s_ = json_dumps(o_, JSON_COMPACT); \
		assert_string_equal(s_, (want)); \
		free(s_); \
		json_decref(o_); \
	} while (0)
#define OUT (&o_)

static void
test_idem_key(void **state)
{
	char k[GH_IDEM_KEY_MAX];

	(void)state;
	assert_int_equal(nd_idem_key(k, sizeof k, 1042, "ops-slack", "alice"), GH_OK);
	assert_string_equal(k, "1042:ops-slack:alice");
	assert_int_equal(nd_idem_key(k, sizeof k, 18446744073709551615ULL, "mail",
	                             "a@example.org"), GH_OK);
	assert_string_equal(k, "18446744073709551615:mail:a@example.org");
	assert_int_equal(nd_idem_key(k, sizeof k, 7, "hook", NULL), GH_OK);
	assert_string_equal(k, "7:hook:*");
	assert_int_equal(nd_idem_key(k, sizeof k, 7, "hook", ""), GH_OK);
	assert_string_equal(k, "7:hook:*");
	assert_int_equal(nd_idem_key(k, 8, 7, "hook", "x"), GH_ETOOBIG);
	assert_int_equal(nd_idem_key(k, sizeof k, 7, "", "x"), GH_EINVAL);
}

static void
test_full_event(void **state)
{
	json_t *ev = load(ev_json);
	struct nd_payload_msg m = {ev, "New login for alice",
	                   "From 192.0.2.7 <bastion> & more",
	                   "1042:ops-slack:alice", "alice"};

	(void)state;
	EXPECT(nd_payload_webhook(&m, OUT),
	       "{\"id\":1042,\"type\":\"login.new_host\",\"category\":\"security\","
	       "\"user\":\"alice\",\"title\":\"New login to <prod> & co\","
	       "\"message\":\"Alice logged in from 192.0.2.7.\",\"priority\":3,"
	       "\"action_url\":\"https://example.org/sec?a=1&b=2\","
	       "\"metadata\":{\"ip\":\"192.0.2.7\"},\"source\":\"pam\","
	       "\"created_at\":1781101800123,\"expires_at\":null,"
	       "\"dedup_key\":null,\"idempotency_key\":\"1042:ops-slack:alice\","
	       "\"recipient\":\"alice\"}");
	EXPECT(nd_payload_slack(&m, OUT),
	       "{\"text\":\"New login for alice\",\"blocks\":["
	       "{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\"New login for alice\"}},"
	       "{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"From 192.0.2.7 &lt;bastion&gt; &amp; more\"}},"
	       "{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"text\":{\"type\":\"plain_text\",\"text\":\"Open\"},"
	       "\"url\":\"https://example.org/sec?a=1&b=2\"}]},"
	       "{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":\"login.new_host \xc2\xb7 security \xc2\xb7 high\"}]}]}");
	EXPECT(nd_payload_mattermost(&m, OUT),
	       "{\"text\":\"#### New login for alice\\n\\nFrom 192.0.2.7 <bastion> & more"
	       "\\n\\n[Open](https://example.org/sec?a=1&b=2)\"}");
	EXPECT(nd_payload_discord(&m, OUT),
	       "{\"embeds\":[{\"title\":\"New login for alice\","
	       "\"description\":\"From 192.0.2.7 <bastion> & more\","
	       "\"url\":\"https://example.org/sec?a=1&b=2\",\"color\":15105570,"
	       "\"timestamp\":\"2026-06-10T14:30:00.123Z\","
	       "\"footer\":{\"text\":\"login.new_host \xc2\xb7 security \xc2\xb7 high\"}}],"
	       "\"allowed_mentions\":{\"parse\":[]}}");
	EXPECT(nd_payload_teams(&m, GH_TEAMS_ADAPTIVE, OUT),
	       "{\"type\":\"message\",\"attachments\":[{\"contentType\":"
	       "\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null,"
	       "\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\","
	       "\"type\":\"AdaptiveCard\",\"version\":\"1.4\",\"body\":["
	       "{\"type\":\"TextBlock\",\"text\":\"New login for alice\",\"weight\":\"Bolder\","
	       "\"size\":\"Medium\",\"wrap\":true},"
	       "{\"type\":\"TextBlock\",\"text\":\"From 192.0.2.7 <bastion> & more\",\"wrap\":true},"
	       "{\"type\":\"FactSet\",\"facts\":[{\"title\":\"Type\",\"value\":\"login.new_host\"},"
	       "{\"title\":\"Category\",\"value\":\"security\"},"
	       "{\"title\":\"Priority\",\"value\":\"high\"}]}],"
	       "\"actions\":[{\"type\":\"Action.OpenUrl\",\"title\":\"Open\","
	       "\"url\":\"https://example.org/sec?a=1&b=2\"}]}}]}");
	EXPECT(nd_payload_teams(&m, GH_TEAMS_MESSAGECARD, OUT),
	       "{\"@type\":\"MessageCard\",\"@context\":\"https://schema.org/extensions\","
	       "\"summary\":\"New login for alice\",\"themeColor\":\"E67E22\","
	       "\"title\":\"New login for alice\",\"text\":\"From 192.0.2.7 <bastion> & more\","
	       "\"potentialAction\":[{\"@type\":\"OpenUri\",\"name\":\"Open\","
	       "\"targets\":[{\"os\":\"default\",\"uri\":\"https://example.org/sec?a=1&b=2\"}]}]}");
	EXPECT(nd_payload_ntfy(&m, "alerts", OUT),
	       "{\"topic\":\"alerts\",\"title\":\"New login for alice\","
	       "\"message\":\"From 192.0.2.7 <bastion> & more\",\"priority\":4,"
	       "\"tags\":[\"login.new_host\",\"security\"],"
	       "\"click\":\"https://example.org/sec?a=1&b=2\"}");
	EXPECT(nd_payload_gotify(&m, OUT),
	       "{\"title\":\"New login for alice\",\"message\":\"From 192.0.2.7 <bastion> & more\","
	       "\"priority\":8,\"extras\":{\"client::display\":{\"contentType\":\"text/plain\"},"
	       "\"client::notification\":{\"click\":{\"url\":\"https://example.org/sec?a=1&b=2\"}}}}");
	EXPECT(nd_payload_webpush(&m, OUT),
	       "{\"title\":\"New login for alice\",\"body\":\"From 192.0.2.7 <bastion> & more\","
	       "\"url\":\"https://example.org/sec?a=1&b=2\",\"tag\":\"gh-1042\","
	       "\"data\":{\"id\":1042,\"type\":\"login.new_host\",\"category\":\"security\","
	       "\"priority\":3,\"idempotency_key\":\"1042:ops-slack:alice\"}}");
	json_decref(ev);
}

static void
test_priority_mappings(void **state)
{
	static const int ntfy[5] = {0, 2, 3, 4, 5};
	static const int gotify[5] = {0, 2, 5, 8, 10};
	static const json_int_t rgb[5] = {0, 0x95a5a6, 0x3498db, 0xe67e22, 0xe74c3c};
	json_t *ev = load(ev_json);
	struct nd_payload_msg m = {ev, NULL, NULL, "k", NULL};
	json_t *o;
	int p;

	(void)state;
	for (p = 1; p <= 4; p++) {
		json_object_set_new(ev, "priority", json_integer(p));
		assert_int_equal(nd_payload_ntfy(&m, "t", &o), GH_OK);
		assert_int_equal(json_integer_value(json_object_get(o, "priority")), ntfy[p]);
		json_decref(o);
		assert_int_equal(nd_payload_gotify(&m, &o), GH_OK);
		assert_int_equal(json_integer_value(json_object_get(o, "priority")), gotify[p]);
		json_decref(o);
		assert_int_equal(nd_payload_discord(&m, &o), GH_OK);
		assert_int_equal(json_integer_value(json_object_get(
			json_array_get(json_object_get(o, "embeds"), 0), "color")), rgb[p]);
		json_decref(o);
	}
	/* Absent or out of range: normal. */
	json_object_del(ev, "priority");
	assert_int_equal(nd_payload_ntfy(&m, "t", &o), GH_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "priority")), 3);
	json_decref(o);
	json_object_set_new(ev, "priority", json_integer(9));
	assert_int_equal(nd_payload_gotify(&m, &o), GH_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "priority")), 5);
	json_decref(o);
	assert_string_equal(nd_priority_name(4), "urgent");
	assert_string_equal(nd_priority_name(0), "normal");
	json_decref(ev);
}

static void
test_minimal_event_and_unsafe_links(void **state)
{
	json_t *ev = load("{\"id\":5,\"type\":\"app.ping\",\"title\":\"Ping\","
	                  "\"action_url\":\"javascript:alert(1)\"}");
	struct nd_payload_msg m = {ev, NULL, NULL, "5:hook:*", NULL};

	(void)state;
	/* Absent fields are null (metadata {}); the subject is the title. */
	EXPECT(nd_payload_webhook(&m, OUT),
	       "{\"id\":5,\"type\":\"app.ping\",\"category\":null,\"user\":null,"
	       "\"title\":\"Ping\",\"message\":null,\"priority\":null,"
	       "\"action_url\":\"javascript:alert(1)\",\"metadata\":{},\"source\":null,"
	       "\"created_at\":null,\"expires_at\":null,\"dedup_key\":null,"
	       "\"idempotency_key\":\"5:hook:*\",\"recipient\":null}");
	/* Only http(s) links become buttons or click targets. */
	EXPECT(nd_payload_slack(&m, OUT),
	       "{\"text\":\"Ping\",\"blocks\":["
	       "{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\"Ping\"}},"
	       "{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":\"app.ping \xc2\xb7 normal\"}]}]}");
	EXPECT(nd_payload_discord(&m, OUT),
	       "{\"embeds\":[{\"title\":\"Ping\",\"color\":3447003,"
	       "\"footer\":{\"text\":\"app.ping \xc2\xb7 normal\"}}],"
	       "\"allowed_mentions\":{\"parse\":[]}}");
	EXPECT(nd_payload_ntfy(&m, "t_1-x", OUT),
	       "{\"topic\":\"t_1-x\",\"title\":\"Ping\",\"message\":\"Ping\",\"priority\":3,"
	       "\"tags\":[\"app.ping\"]}");
	EXPECT(nd_payload_gotify(&m, OUT),
	       "{\"title\":\"Ping\",\"message\":\"Ping\",\"priority\":5,"
	       "\"extras\":{\"client::display\":{\"contentType\":\"text/plain\"}}}");
	EXPECT(nd_payload_mattermost(&m, OUT), "{\"text\":\"#### Ping\"}");
	EXPECT(nd_payload_teams(&m, GH_TEAMS_MESSAGECARD, OUT),
	       "{\"@type\":\"MessageCard\",\"@context\":\"https://schema.org/extensions\","
	       "\"summary\":\"Ping\",\"themeColor\":\"3498DB\",\"title\":\"Ping\"}");
	{
		json_t *o = NULL;
		assert_int_equal(nd_payload_ntfy(&m, "bad topic", &o), GH_EINVAL);
		assert_int_equal(nd_payload_ntfy(&m, "", &o), GH_EINVAL);
		assert_null(o);
		m.ev = NULL;
		assert_int_equal(nd_payload_slack(&m, &o), GH_EINVAL);
	}
	json_decref(ev);
}

static void
test_limits(void **state)
{
	json_t *ev = load(ev_json);
	char subj[400], text[5000];
	struct nd_payload_msg m = {ev, subj, text, "k", NULL};
	json_t *o;
	const char *s;
	size_t i;

	(void)state;
	/* 200 two-byte characters; 4500 "<" that grow to "&lt;" for Slack. */
	for (i = 0; i < 200; i++)
		memcpy(subj + 2 * i, "\xc3\xa9", 2);
	subj[400 - 1] = '\0';
	subj[398] = '\0';
	memset(text, '<', 4500);
	text[4500] = '\0';
	assert_int_equal(nd_payload_slack(&m, &o), GH_OK);
	s = json_string_value(json_object_get(json_object_get(
		json_array_get(json_object_get(o, "blocks"), 0), "text"), "text"));
	/* Header: 150 characters, the last an ellipsis. */
	assert_true(gh_utf8_valid(s, strlen(s)));
	assert_int_equal(strlen(s), 149 * 2 + 3);
	assert_memory_equal(s + 298, "\xe2\x80\xa6", 3);
	s = json_string_value(json_object_get(json_object_get(
		json_array_get(json_object_get(o, "blocks"), 1), "text"), "text"));
	assert_true(strlen(s) <= 3000 + 2);
	json_decref(o);
	assert_int_equal(nd_payload_discord(&m, &o), GH_OK);
	s = json_string_value(json_object_get(
		json_array_get(json_object_get(o, "embeds"), 0), "description"));
	assert_int_equal(strlen(s), 4095 + 3);
	json_decref(o);
	/* Web Push stays far below the 3993-byte plaintext limit. */
	memset(text, 'x', 4999);
	text[4999] = '\0';
	assert_int_equal(nd_payload_webpush(&m, &o), GH_OK);
	{
		char *d = json_dumps(o, JSON_COMPACT);
		assert_true(strlen(d) < 2500);
		free(d);
	}
	json_decref(o);
	json_decref(ev);
}

static void
test_sms(void **state)
{
	json_t *ev = load(ev_json);
	struct nd_payload_msg m = {ev, "New login", "Login from 192.0.2.7 \"bastion\" & co",
	                   "1042:sms:+15550100", "+15550100"};
	const char *ct = NULL;
	char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(nd_payload_sms(&m, GH_SMS_FORM, NULL, 160, &body, &len,
	                                &ct), GH_OK);
	assert_string_equal(ct, "application/x-www-form-urlencoded");
	assert_string_equal(body, "To=%2B15550100&Body=Login+from+192.0.2.7+%22bastion%22+%26+co");
	assert_int_equal(len, strlen(body));
	free(body);
	assert_int_equal(nd_payload_sms(&m, GH_SMS_JSON, NULL, 160, &body, &len,
	                                &ct), GH_OK);
	assert_string_equal(ct, "application/json");
	assert_string_equal(body, "{\"to\":\"+15550100\",\"text\":\"Login from 192.0.2.7 \\\"bastion\\\" & co\"}");
	free(body);
	/* A Twilio-style form with the event's own fields and a cut text. */
	assert_int_equal(nd_payload_sms(&m, GH_SMS_FORM,
	                 "From=Gatehouse&To={{recipient}}&Body={{text}}&Ref={{idempotency_key}}&Ip={{metadata.ip}}",
	                 10, &body, &len, &ct), GH_OK);
	assert_string_equal(body, "From=Gatehouse&To=%2B15550100&Body=Login+fro%E2%80%A6"
	                          "&Ref=1042%3Asms%3A%2B15550100&Ip=192.0.2.7");
	free(body);
	/* A JSON template that does not produce JSON is an error. */
	assert_int_equal(nd_payload_sms(&m, GH_SMS_JSON, "{\"to\":{{recipient}}}",
	                                160, &body, &len, &ct), GH_EINVAL);
	assert_null(body);
	m.recipient = NULL;
	assert_int_equal(nd_payload_sms(&m, GH_SMS_FORM, NULL, 160, &body, &len,
	                                &ct), GH_EINVAL);
	json_decref(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idem_key),
		cmocka_unit_test(test_full_event),
		cmocka_unit_test(test_priority_mappings),
		cmocka_unit_test(test_minimal_event_and_unsafe_links),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
