/*
 * test_domain_policy.c - unit tests of [events_api], what the core lets
 * the web domain raise beyond upload.* (gh_domain_policy_load,
 * gh_domain_policy_type, gh_domain_accept_policy in common/src/domain.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/conf.h"
#include "gatehouse/domain.h"

static void
load(const char *text, struct gh_domain_policy *p, gh_err want,
     const char *needle)
{
	struct gh_conf *c;
	char d[512] = "";

	assert_int_equal(gh_conf_parse(&c, text, "t.conf", d, sizeof(d)), GH_OK);
	assert_int_equal(gh_domain_policy_load(c, p, d, sizeof(d)), want);
	if (needle != NULL && strstr(d, needle) == NULL)
		fail_msg("detail '%s' lacks '%s'", d, needle);
	gh_conf_free(c);
}

static void
test_load(void **state)
{
	struct gh_domain_policy p;

	(void)state;
	load("", &p, GH_OK, NULL);
	assert_int_equal(p.ntypes, 0);
	assert_int_equal(p.nprefixes, 0);
	load("[events_api]\ntypes = app.* ,order.?x\n"
	     "action_url_prefix = https://app.example.org/ http://h/a\n",
	     &p, GH_OK, NULL);
	assert_int_equal(p.ntypes, 2);
	assert_string_equal(p.types[1], "order.?x");
	assert_int_equal(p.nprefixes, 2);
	assert_string_equal(p.prefixes[0], "https://app.example.org/");
	load("[events_api]\ntypes = App.*\n", &p, GH_ECONFIG, "'App.*'");
	load("[events_api]\naction_url_prefix = https://app.example.org\n",
	     &p, GH_ECONFIG, "action_url_prefix");
	load("[events_api]\naction_url_prefix = javascript:alert(1)/\n",
	     &p, GH_ECONFIG, "action_url_prefix");
	load("[events_api]\naction_url_prefix = https://u@evil.example/\n",
	     &p, GH_ECONFIG, "action_url_prefix");
}

static void
test_types(void **state)
{
	struct gh_domain_policy p;

	(void)state;
	load("[events_api]\ntypes = app.* *\n", &p, GH_OK, NULL);
	assert_int_equal(gh_domain_policy_type(&p, "app.x"), 1);
	assert_int_equal(gh_domain_policy_type(&p, "billing"), 1);
	/* never another part's, whatever the patterns */
	assert_int_equal(gh_domain_policy_type(&p, "login.new_host"), 0);
	assert_int_equal(gh_domain_policy_type(&p, "mail.rejected"), 0);
	assert_int_equal(gh_domain_policy_type(&p, "upload.infected"), 0);
	assert_int_equal(gh_domain_policy_type(&p, "store.nearly_full"), 0);
	assert_int_equal(gh_domain_policy_type(&p, "digest"), 0);
	assert_int_equal(gh_domain_policy_type(NULL, "app.x"), 0);
}

static json_t *
accept_ev(const struct gh_domain_policy *p, enum gh_domain d,
          const char *json, gh_err want, const char *needle)
{
	json_t *ev = json_loads(json, 0, NULL), *out = NULL;
	char why[256] = "";

	assert_non_null(ev);
	assert_int_equal(gh_domain_accept_policy(d, p, ev, &out, why,
	                                         sizeof(why)), want);
	if (needle != NULL && strstr(why, needle) == NULL)
		fail_msg("detail '%s' lacks '%s'", why, needle);
	json_decref(ev);
	return out;
}

static void
test_accept(void **state)
{
	struct gh_domain_policy p;
	json_t *o;

	(void)state;
	load("[events_api]\ntypes = app.*\n"
	     "action_url_prefix = https://app.example.org/\n", &p, GH_OK, NULL);
	o = accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":\"u\","
	              "\"title\":\"t\",\"category\":\"social\",\"priority\":4,"
	              "\"source\":\"pam\",\"dedup_key\":\"k\",\"action_url\":"
	              "\"https://app.example.org/x\"}", GH_OK, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	                    "app");
	assert_string_equal(json_string_value(json_object_get(o, "category")),
	                    "social");
	assert_int_equal(json_integer_value(json_object_get(o, "priority")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "dedup_key")),
	                    "web:k");
	json_decref(o);
	/* no category: the type's */
	o = accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":\"u\","
	              "\"title\":\"t\"}", GH_OK, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "category")),
	                    "system");
	json_decref(o);
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":"
	            "\"u\",\"title\":\"t\",\"category\":\"security\"}",
	            GH_EINVAL, "'category'"));
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":"
	            "\"u\",\"title\":\"t\",\"action_url\":"
	            "\"https://app.example.org.evil/\"}", GH_EINVAL,
	            "'action_url'"));
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":"
	            "\"u\",\"title\":\"t\",\"channels\":[\"sms\"]}", GH_EINVAL,
	            "channels"));
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"app.c\",\"user\":"
	            "\"u\",\"title\":\"t\",\"recipients\":[\"mail:a@b.c\"]}",
	            GH_EINVAL, "\"admins\""));
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"billing.c\","
	            "\"user\":\"u\",\"title\":\"t\"}", GH_EINVAL,
	            "[events_api] types"));
	/* upload.* as before: the type's category, no link */
	o = accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"upload.stored\",\"user\":"
	              "\"u\",\"title\":\"t\",\"category\":\"social\"}", GH_OK,
	              NULL);
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	                    "nginx");
	assert_string_equal(json_string_value(json_object_get(o, "category")),
	                    "system");
	json_decref(o);
	assert_null(accept_ev(&p, GH_DOMAIN_WEB, "{\"type\":\"upload.stored\","
	            "\"user\":\"u\",\"title\":\"t\",\"action_url\":"
	            "\"https://app.example.org/x\"}", GH_EINVAL, "links"));
	/* the policy is the web domain's only */
	assert_null(accept_ev(&p, GH_DOMAIN_MAIL, "{\"type\":\"app.c\","
	            "\"user\":\"u\",\"title\":\"t\"}", GH_EINVAL, "mail.*"));
	/* without a policy: upload.* only */
	assert_null(accept_ev(NULL, GH_DOMAIN_WEB, "{\"type\":\"app.c\","
	            "\"user\":\"u\",\"title\":\"t\"}", GH_EINVAL, "upload.*"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_accept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
