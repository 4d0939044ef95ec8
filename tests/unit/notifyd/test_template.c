/*
 * test_template.c - {{field}} substitution, escaping, bounds,
 * template directories and the built-in fallback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../../notifyd/core/template.h"
#include "gatehouse/text.h"

static json_t *
event(void)
{
	json_error_t je;
	json_t *ev = json_loads(
		"{\"id\":1042,\"type\":\"login.new_host\",\"category\":\"security\","
		"\"user\":\"alice\",\"title\":\"New login to <prod> & co\","
		"\"message\":\"Alice logged in from a new address.\\nWas it you?\","
		"\"priority\":3,\"action_url\":\"https://example.org/sec?a=1&b=2\","
		"\"source\":\"pam\",\"created_at\":1781101800000,\"expires_at\":null,"
		"\"metadata\":{\"ip\":\"192.0.2.7\",\"host\":\"bastion\",\"port\":22,"
		"\"ratio\":0.5,\"tls\":true,\"tags\":[\"a\",\"b\"],"
		"\"items\":[{\"title\":\"first\"},{\"title\":\"second\"}]}}",
		0, &je);
	assert_non_null(ev);
	return ev;
}

static char *
render(const char *t, const json_t *v, enum nd_tmpl_escape esc, size_t max,
       int *trunc)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(nd_tmpl_render(t, strlen(t), v, esc, max, &out, &len,
	                                trunc), GH_OK);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	assert_true(len <= max);
	return out;
}

#define CHECK(t, v, esc, want) do { \
		int tr_ = -1; \
		char *o_ = render((t), (v), (esc), 4096, &tr_); \
		assert_string_equal(o_, (want)); \
		assert_int_equal(tr_, 0); \
		free(o_); \
	} while (0)

static void
test_substitution(void **state)
{
	json_t *ev = event();

	(void)state;
	CHECK("Hello {{user}}, from {{metadata.ip}} ({{ metadata.host }}).", ev,
	      GH_TMPL_PLAIN, "Hello alice, from 192.0.2.7 (bastion).");
	CHECK("{{priority}}|{{metadata.port}}|{{metadata.ratio}}|{{metadata.tls}}",
	      ev, GH_TMPL_PLAIN, "3|22|0.5|true");
	CHECK("{{metadata.tags}} {{metadata.items.1.title}} {{id}}", ev,
	      GH_TMPL_PLAIN, "[\"a\",\"b\"] second 1042");
	/* Missing, null, and paths that lead nowhere render as nothing. */
	CHECK("[{{nope}}][{{expires_at}}][{{metadata.ip.x}}][{{metadata.items.9.title}}][{{metadata.items.x}}]",
	      ev, GH_TMPL_PLAIN, "[][][][][]");
	CHECK("no fields at all", ev, GH_TMPL_PLAIN, "no fields at all");
	CHECK("", ev, GH_TMPL_PLAIN, "");
	CHECK("{{user}}", NULL, GH_TMPL_PLAIN, "");
	json_decref(ev);
}

static void
test_literal_braces(void **state)
{
	json_t *ev = event();

	(void)state;
	CHECK("Hi {{user", ev, GH_TMPL_PLAIN, "Hi {{user");
	CHECK("Hi {{", ev, GH_TMPL_PLAIN, "Hi {{");
	CHECK("Hi {{ not a field! }} {{user}}", ev, GH_TMPL_PLAIN,
	      "Hi {{ not a field! }} alice");
	CHECK("{{}} {{ }}", ev, GH_TMPL_PLAIN, "{{}} {{ }}");
	CHECK("{{{user}}}", ev, GH_TMPL_PLAIN, "{alice}");
	CHECK("{ {user} } }}", ev, GH_TMPL_PLAIN, "{ {user} } }}");
	CHECK("{{user}}{{user}}", ev, GH_TMPL_PLAIN, "alicealice");
	CHECK("{{metadata..ip}}|{{.user}}", ev, GH_TMPL_PLAIN, "|");
	json_decref(ev);
}

static void
test_escaping(void **state)
{
	json_t *v = json_pack("{s:s, s:s, s:i}",
	                      "x", "<b>\"Tom\" & 'Jerry'</b>",
	                      "u", "a b&c=d/\xc3\xa9~*",
	                      "n", 5);
	json_t *parsed;
	char *o;

	(void)state;
	/* Template text stays HTML; only values are escaped. */
	CHECK("<p>{{x}}</p>", v, GH_TMPL_HTML,
	      "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>");
	CHECK("{{x}}", v, GH_TMPL_PLAIN, "<b>\"Tom\" & 'Jerry'</b>");
	CHECK("To=%2B1555&Body={{u}}", v, GH_TMPL_URL,
	      "To=%2B1555&Body=a+b%26c%3Dd%2F%C3%A9%7E*");
	CHECK("n={{n}}", v, GH_TMPL_URL, "n=5");
	json_decref(v);

	/* JSON escaping: the result parses back to the original value. */
	v = json_pack("{s:s}", "m", "quote \" back \\ nl \n tab \t bell \x07 \xe2\x82\xac");
	o = render("{\"text\":\"{{m}}\"}", v, GH_TMPL_JSON, 4096, NULL);
	parsed = json_loads(o, 0, NULL);
	assert_non_null(parsed);
	assert_string_equal(json_string_value(json_object_get(parsed, "text")),
	                    json_string_value(json_object_get(v, "m")));
	json_decref(parsed);
	free(o);
	json_decref(v);
}

static void
test_bounds(void **state)
{
	json_t *v = json_pack("{s:s, s:s}", "k", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
	                      "a", "&&&");
	int tr = -1;
	char *o;

	(void)state;
	/* 9 bytes of Hangul into 4: one whole character. */
	o = render("{{k}}", v, GH_TMPL_PLAIN, 4, &tr);
	assert_string_equal(o, "\xed\x95\x9c");
	assert_int_equal(tr, 1);
	free(o);
	/* Entities are never split. */
	o = render("{{a}}", v, GH_TMPL_HTML, 12, &tr);
	assert_string_equal(o, "&amp;&amp;");
	assert_int_equal(tr, 1);
	free(o);
	o = render("{{a}}", v, GH_TMPL_HTML, 15, &tr);
	assert_string_equal(o, "&amp;&amp;&amp;");
	assert_int_equal(tr, 0);
	free(o);
	/* Literal text is bounded too; nothing is added after the cut. */
	o = render("0123456789{{a}}", v, GH_TMPL_PLAIN, 5, &tr);
	assert_string_equal(o, "01234");
	assert_int_equal(tr, 1);
	free(o);
	o = render("ab{{a}}cd", v, GH_TMPL_URL, 6, &tr);
	assert_string_equal(o, "ab%26");
	assert_int_equal(tr, 1);
	free(o);
	/* Large output grows the buffer correctly. */
	{
		char t[2000];
		size_t i;
		for (i = 0; i + 5 < sizeof t; i += 5)
			memcpy(t + i, "{{a}}", 5);
		t[i] = '\0';
		o = render(t, v, GH_TMPL_HTML, 100000, &tr);
		assert_int_equal(strlen(o), (i / 5) * 15);
		assert_int_equal(tr, 0);
		free(o);
	}
	assert_int_equal(nd_tmpl_render("x", 1, v, GH_TMPL_PLAIN, 0, &o, NULL,
	                                NULL), GH_EINVAL);
	json_decref(v);
}

static void
test_utf8(void **state)
{
	char s[32];

	(void)state;
	assert_true(gh_utf8_valid("abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", 15));
	assert_false(gh_utf8_valid("\xc0\xaf", 2));        /* overlong */
	assert_false(gh_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
	assert_false(gh_utf8_valid("\xf4\x90\x80\x80", 4));/* > U+10FFFF */
	assert_false(gh_utf8_valid("\xe2\x82", 2));        /* cut short */
	assert_false(gh_utf8_valid("\x80", 1));
	assert_int_equal(gh_utf8_cut("a\xe2\x82\xac", 4, 3), 1);
	assert_int_equal(gh_utf8_cut("a\xe2\x82\xac", 4, 4), 4);
	assert_int_equal(gh_utf8_cut("abc", 3, 2), 2);
	snprintf(s, sizeof s, "%s", "h\xc3\xa9llo world");
	assert_int_equal(gh_utf8_truncate_chars(s, sizeof s, 5, 1), 1);
	assert_string_equal(s, "h\xc3\xa9ll\xe2\x80\xa6");
	snprintf(s, sizeof s, "%s", "short");
	assert_int_equal(gh_utf8_truncate_chars(s, sizeof s, 5, 1), 0);
	assert_string_equal(s, "short");
	assert_int_equal(gh_utf8_truncate_chars(s, sizeof s, 3, 0), 1);
	assert_string_equal(s, "sho");
}

/* ---- directories ---- */

static char tdir[64];

static void
put(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void
rm(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", tdir, name);
	assert_int_equal(unlink(path), 0);
}

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tdir, sizeof tdir, "/tmp/gh-tmpl-XXXXXX");
	assert_non_null(mkdtemp(tdir));
	put("login.new_host.subject", "New login for {{user}}\n", 23);
	put("login.new_host.txt", "{{user}} from {{metadata.ip}}\n", 30);
	put("login.new_host.sms.txt", "SMS: {{metadata.ip}}", 20);
	put("login.new_host.ops-slack.txt", "ops: {{user}}", 13);
	put("login.new_host.html", "<b>{{title}}</b>", 16);
	put("default.subject", "[{{category}}] {{title}}", 24);
	put("default.sms.txt", "{{title}}", 9);
	put("README", "not a template", 14);
	put(".hidden.txt", "hidden", 6);
	put("weird name.txt", "spaces are not allowed", 22);
	return 0;
}

static int
teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_set_lookup_order(void **state)
{
	struct nd_tmpl_set *set = NULL;
	char detail[256];
	const char *t, *name = NULL;
	size_t len = 0;
	char sub[256];

	(void)state;
	snprintf(sub, sizeof sub, "%s/dir.txt", tdir);
	assert_int_equal(mkdir(sub, 0700), 0);   /* not a regular file: skipped */
	assert_int_equal(nd_tmpl_set_load(tdir, &set, detail, sizeof detail), GH_OK);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(nd_tmpl_set_count(set), 7);

	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "ops-slack", "slack",
	                 GH_TMPL_TEXT, &len, &name);
	assert_string_equal(name, "login.new_host.ops-slack.txt");
	assert_int_equal(len, 13);
	assert_memory_equal(t, "ops: {{user}}", 13);
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "pager", "sms", GH_TMPL_TEXT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.sms.txt");
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "mail", "smtp", GH_TMPL_TEXT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.txt");
	/* Type's own generic file beats the default's channel file. */
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", NULL, "sms", GH_TMPL_SUBJECT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.subject");
	t = nd_tmpl_find(set, NULL, NULL, "mail.rejected", NULL, "sms", GH_TMPL_TEXT, &len,
	                 &name);
	assert_string_equal(name, "default.sms.txt");
	t = nd_tmpl_find(set, NULL, NULL, "mail.rejected", NULL, "smtp", GH_TMPL_SUBJECT,
	                 &len, &name);
	assert_string_equal(name, "default.subject");
	t = nd_tmpl_find(set, NULL, NULL, "mail.rejected", NULL, "smtp", GH_TMPL_HTML_BODY,
	                 &len, &name);
	assert_null(t);
	nd_tmpl_set_free(set);
}

static void
test_set_render_part(void **state)
{
	struct nd_tmpl_set *set = NULL;
	json_t *ev = event();
	char *o = NULL;
	int fb = -1, tr = -1;

	(void)state;
	assert_int_equal(nd_tmpl_set_load(tdir, &set, NULL, 0), GH_OK);
	/* Subjects lose their newline; HTML parts escape values. */
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, "mail", "smtp",
	                 GH_TMPL_SUBJECT, 998, &o, &fb, &tr), GH_OK);
	assert_string_equal(o, "New login for alice");
	assert_int_equal(fb, 0);
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, "mail", "smtp",
	                 GH_TMPL_HTML_BODY, 4096, &o, &fb, &tr), GH_OK);
	assert_string_equal(o, "<b>New login to &lt;prod&gt; &amp; co</b>");
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "sms", GH_TMPL_TEXT,
	                 160, &o, &fb, &tr), GH_OK);
	assert_string_equal(o, "SMS: 192.0.2.7");
	free(o);
	/* No html template for this type: the fallback, flagged. */
	json_object_set_new(ev, "type", json_string("mail.rejected"));
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp",
	                 GH_TMPL_HTML_BODY, 8192, &o, &fb, &tr), GH_OK);
	assert_int_equal(fb, 1);
	assert_non_null(strstr(o, "<h2>New login to &lt;prod&gt; &amp; co</h2>"));
	free(o);
	assert_int_equal(nd_tmpl_missing_once(set, "mail.rejected", "smtp",
	                                      GH_TMPL_HTML_BODY), 1);
	assert_int_equal(nd_tmpl_missing_once(set, "mail.rejected", "smtp",
	                                      GH_TMPL_HTML_BODY), 0);
	assert_int_equal(nd_tmpl_missing_once(set, "mail.rejected", "smtp",
	                                      GH_TMPL_TEXT), 1);
	nd_tmpl_set_free(set);
	json_decref(ev);
}

static void
test_set_errors(void **state)
{
	struct nd_tmpl_set *set = NULL;
	char detail[256];
	static char big[GH_TMPL_FILE_MAX + 1];

	(void)state;
	assert_int_equal(nd_tmpl_set_load("/nonexistent/templates", &set, detail,
	                                  sizeof detail), GH_ENOTFOUND);
	assert_null(set);
	put("bad.txt", "caf\xe9", 4);
	assert_int_equal(nd_tmpl_set_load(tdir, &set, detail, sizeof detail),
	                 GH_EINVAL);
	assert_non_null(strstr(detail, "bad.txt"));
	rm("bad.txt");
	memset(big, 'x', sizeof big);
	put("big.html", big, sizeof big);
	assert_int_equal(nd_tmpl_set_load(tdir, &set, detail, sizeof detail),
	                 GH_ETOOBIG);
	assert_non_null(strstr(detail, "big.html"));
	rm("big.html");
	assert_null(set);
}

/* An admin's directory over the shipped one: same name replaces, a new
 * name adds, the rest of the shipped set stays; a bad file leaves the set
 * as it was. */
static void
test_set_overrides(void **state)
{
	struct nd_tmpl_set *set = NULL;
	char over[96], path[160], detail[256];
	const char *t, *name = NULL;
	size_t len = 0, added = 9;
	FILE *f;

	(void)state;
	snprintf(over, sizeof over, "%s/etc.d", tdir);
	assert_int_equal(mkdir(over, 0700), 0);
	snprintf(path, sizeof path, "%s/login.new_host.txt", over);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ours: {{user}}", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/disk.full.subject", over);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Disk full", f);
	fclose(f);
	assert_int_equal(nd_tmpl_set_empty(&set), GH_OK);
	assert_int_equal(nd_tmpl_set_add_dir(set, tdir, &added, detail,
	                                     sizeof detail), GH_OK);
	assert_int_equal(added, 7);
	assert_int_equal(nd_tmpl_set_add_dir(set, over, &added, detail,
	                                     sizeof detail), GH_OK);
	assert_int_equal(added, 2);
	assert_int_equal(nd_tmpl_set_count(set), 8);
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "mail", "smtp", GH_TMPL_TEXT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.txt");
	assert_int_equal(len, 14);
	assert_memory_equal(t, "ours: {{user}}", 14);
	t = nd_tmpl_find(set, NULL, NULL, "disk.full", NULL, "smtp", GH_TMPL_SUBJECT, &len,
	                 &name);
	assert_string_equal(name, "disk.full.subject");
	/* the shipped ones not overridden are still there */
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", NULL, "smtp", GH_TMPL_SUBJECT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.subject");
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "pager", "sms", GH_TMPL_TEXT,
	                 &len, &name);
	assert_string_equal(name, "login.new_host.sms.txt");
	/* a missing directory, a bad file: errors, and the set unchanged */
	assert_int_equal(nd_tmpl_set_add_dir(set, "/nonexistent/t", NULL,
	                                     detail, sizeof detail),
	                 GH_ENOTFOUND);
	snprintf(path, sizeof path, "%s/default.txt", over);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("caf\xe9", f);
	fclose(f);
	assert_int_equal(nd_tmpl_set_add_dir(set, over, NULL, detail,
	                                     sizeof detail), GH_EINVAL);
	assert_non_null(strstr(detail, "default.txt"));
	assert_int_equal(nd_tmpl_set_count(set), 8);
	t = nd_tmpl_find(set, NULL, NULL, "login.new_host", "mail", "smtp", GH_TMPL_TEXT,
	                 &len, &name);
	assert_memory_equal(t, "ours: {{user}}", 14);
	nd_tmpl_set_free(set);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof path, "%s/login.new_host.txt", over);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof path, "%s/disk.full.subject", over);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(over), 0);
}

/* a file under tdir, subdirectories made as needed */
static void
put_at(const char *rel, const char *text)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tdir, rel);
	for (slash = strchr(path + strlen(tdir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_lang_chain(void **state)
{
	/* lang, default -> the languages tried, "" last (unsuffixed files) */
	static const struct {
		const char *lang, *def;
		const char *want[6];
	} cases[] = {
		{"ko", "en", {"ko", "en", "", NULL}},
		{"pt-BR", "en", {"pt-BR", "pt", "en", "", NULL}},
		{"PT-br", "EN", {"pt-BR", "pt", "en", "", NULL}},
		{"zh-Hant-TW", "en", {"zh-Hant-TW", "zh-Hant", "zh", "en", "",
		                      NULL}},
		{"en-x-pirate", "en", {"en-x-pirate", "en", "", NULL}},
		{NULL, "en", {"en", "", NULL}},
		{"en", "en", {"en", "", NULL}},
		{"pt-BR", "pt-PT", {"pt-BR", "pt", "pt-PT", "", NULL}},
		/* the unsuffixed files are English: en ends the chain */
		{"en", "ko", {"en", "", NULL}},
		{"en-GB", "ko", {"en-GB", "en", "", NULL}},
		{NULL, "en-US", {"en-US", "en", "", NULL}},
		{"../x", "en", {"en", "", NULL}},     /* not a tag: left out */
		{"ko", NULL, {"ko", "", NULL}},
		{NULL, NULL, {"", NULL}},
	};
	char chain[GH_TMPL_LANGS_MAX][GH_LANG_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = nd_tmpl_lang_chain(cases[i].lang, cases[i].def, chain,
		                              GH_TMPL_LANGS_MAX), k;

		for (k = 0; cases[i].want[k]; k++) {
			assert_true(k < n);
			assert_string_equal(chain[k], cases[i].want[k]);
		}
		assert_int_equal(n, k);
	}
	/* a short chain keeps "" */
	assert_int_equal(nd_tmpl_lang_chain("pt-BR", "en", chain, 2), 2);
	assert_string_equal(chain[0], "pt-BR");
	assert_string_equal(chain[1], "");
}

static void
test_set_languages(void **state)
{
	struct nd_tmpl_set *set = NULL;
	char detail[256], link[512];
	const char *t, *name = NULL;
	size_t len = 0;
	/* lang, default, type, channel kind, part -> the file that wins */
	static const struct {
		const char *lang, *def, *type, *kind;
		enum nd_tmpl_part part;
		const char *want;
	} cases[] = {
		{"ko", "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "ko/login.new_host.subject"},
		{"ko", "en", "login.new_host", "sms", GH_TMPL_TEXT,
		 "ko/login.new_host.sms.txt"},
		/* no ko file for this channel: ko's generic one, not English */
		{"ko", "en", "login.new_host", "smtp", GH_TMPL_TEXT,
		 "ko/login.new_host.txt"},
		/* a region without templates: its language */
		{"pt-BR", "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "pt/login.new_host.subject"},
		{"pt-BR", "en", "login.new_host", "smtp", GH_TMPL_TEXT,
		 "pt-BR/login.new_host.txt"},
		/* nothing in ko nor pt: the default language, then unsuffixed */
		{"ko", "pt", "mail.rejected", "smtp", GH_TMPL_SUBJECT,
		 "pt/mail.rejected.subject"},
		{"ko", "en", "mail.rejected", "smtp", GH_TMPL_SUBJECT,
		 "mail.rejected.subject"},
		{"de", "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "login.new_host.subject"},
		{NULL, "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "login.new_host.subject"},
		{NULL, "ko", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "ko/login.new_host.subject"},
		/* English wanted: the unsuffixed files, not the default */
		{"en", "ko", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "login.new_host.subject"},
		/* the directory was named in another case: found all the same */
		{"ja", "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "ja/login.new_host.subject"},
		/* a tag that is not one is never looked up */
		{"../x", "en", "login.new_host", "smtp", GH_TMPL_SUBJECT,
		 "login.new_host.subject"},
	};

	(void)state;
	put_at("ko/login.new_host.subject", "새 로그인");
	put_at("ko/login.new_host.sms.txt", "sms");
	put_at("ko/login.new_host.txt", "txt");
	put_at("pt/login.new_host.subject", "pt");
	put_at("pt/mail.rejected.subject", "pt");
	put_at("pt-BR/login.new_host.txt", "pt-BR");
	put_at("JA/login.new_host.subject", "ja");
	put_at("mail.rejected.subject", "en");
	put_at("x/login.new_host.subject", "not a language directory");
	put_at("ko.d/login.new_host.subject", "nor this");
	put_at("real-x/login.new_host.subject", "linked");
	snprintf(link, sizeof link, "%s/de", tdir);
	assert_int_equal(symlink("real-x", link), 0);   /* not followed */
	assert_int_equal(nd_tmpl_set_load(tdir, &set, detail, sizeof detail),
	                 GH_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		name = NULL;
		t = nd_tmpl_find(set, cases[i].lang, cases[i].def, cases[i].type,
		                 NULL, cases[i].kind, cases[i].part, &len, &name);
		assert_non_null(t);
		assert_string_equal(name, cases[i].want);
	}
	t = nd_tmpl_find(set, "ko", "en", "login.new_host", NULL, "smtp",
	                 GH_TMPL_SUBJECT, &len, &name);
	assert_int_equal(len, strlen("새 로그인"));
	assert_memory_equal(t, "새 로그인", len);
	nd_tmpl_set_free(set);
	assert_int_equal(unlink(link), 0);
	{
		char cmd[600];

		/* one language twice, in two cases: refused, not a guess */
		put_at("KO/login.new_host.subject", "again");
		assert_int_equal(nd_tmpl_set_load(tdir, &set, detail,
		                                  sizeof detail), GH_EINVAL);
		assert_non_null(strstr(detail, "ko/login.new_host.subject"));
		snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf ko KO pt pt-BR JA x "
		         "ko.d real-x mail.rejected.subject", tdir);
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_fallback(void **state)
{
	struct nd_tmpl_set *set = NULL;
	json_t *ev = event();
	char *o = NULL;
	int fb = 0;

	(void)state;
	assert_int_equal(nd_tmpl_set_empty(&set), GH_OK);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp", GH_TMPL_TEXT,
	                 8192, &o, &fb, NULL), GH_OK);
	assert_int_equal(fb, 1);
	assert_string_equal(o,
		"New login to <prod> & co\n"
		"\n"
		"Alice logged in from a new address.\n"
		"Was it you?\n"
		"\n"
		"https://example.org/sec?a=1&b=2\n"
		"\n"
		"Details:\n"
		"  ip: 192.0.2.7\n"
		"  host: bastion\n"
		"  port: 22\n"
		"  ratio: 0.5\n"
		"  tls: true\n"
		"  tags: [\"a\",\"b\"]\n"
		"  items: [{\"title\":\"first\"},{\"title\":\"second\"}]\n"
		"\n"
		"-- \n"
		"Gatehouse login.new_host (security), event 1042\n");
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "sms", GH_TMPL_TEXT,
	                 160, &o, &fb, NULL), GH_OK);
	assert_string_equal(o, "New login to <prod> & co\n"
	                       "Alice logged in from a new address.\nWas it you?");
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp",
	                 GH_TMPL_SUBJECT, 998, &o, &fb, NULL), GH_OK);
	assert_string_equal(o, "New login to <prod> & co");
	free(o);
	/* Chat cards carry title and link themselves; push has a title field. */
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, "ops", "slack",
	                 GH_TMPL_TEXT, 8192, &o, &fb, NULL), GH_OK);
	assert_string_equal(o,
		"Alice logged in from a new address.\nWas it you?\n"
		"\n"
		"Details:\n"
		"  ip: 192.0.2.7\n"
		"  host: bastion\n"
		"  port: 22\n"
		"  ratio: 0.5\n"
		"  tls: true\n"
		"  tags: [\"a\",\"b\"]\n"
		"  items: [{\"title\":\"first\"},{\"title\":\"second\"}]\n");
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "ntfy",
	                 GH_TMPL_TEXT, 8192, &o, &fb, NULL), GH_OK);
	assert_string_equal(o, "Alice logged in from a new address.\nWas it you?");
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp",
	                 GH_TMPL_HTML_BODY, 8192, &o, &fb, NULL), GH_OK);
	assert_string_equal(o,
		"<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n"
		"<h2>New login to &lt;prod&gt; &amp; co</h2>\n"
		"<p>Alice logged in from a new address.<br>\nWas it you?</p>\n"
		"<p><a href=\"https://example.org/sec?a=1&amp;b=2\">"
		"https://example.org/sec?a=1&amp;b=2</a></p>\n"
		"<table>\n"
		"<tr><td>ip</td><td>192.0.2.7</td></tr>\n"
		"<tr><td>host</td><td>bastion</td></tr>\n"
		"<tr><td>port</td><td>22</td></tr>\n"
		"<tr><td>ratio</td><td>0.5</td></tr>\n"
		"<tr><td>tls</td><td>true</td></tr>\n"
		"<tr><td>tags</td><td>[&quot;a&quot;,&quot;b&quot;]</td></tr>\n"
		"<tr><td>items</td><td>[{&quot;title&quot;:&quot;first&quot;},"
		"{&quot;title&quot;:&quot;second&quot;}]</td></tr>\n"
		"</table>\n"
		"<p style=\"color:#777;font-size:small\">Gatehouse login.new_host "
		"(security), event 1042</p>\n</body></html>\n");
	free(o);
	/* A javascript: link is not offered; no title falls back to the type. */
	json_object_set_new(ev, "action_url", json_string("javascript:alert(1)"));
	json_object_del(ev, "title");
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp",
	                 GH_TMPL_HTML_BODY, 8192, &o, &fb, NULL), GH_OK);
	assert_null(strstr(o, "javascript"));
	free(o);
	assert_int_equal(nd_tmpl_render_part(set, NULL, NULL, ev, NULL, "smtp",
	                 GH_TMPL_SUBJECT, 998, &o, &fb, NULL), GH_OK);
	assert_string_equal(o, "Gatehouse: login.new_host");
	free(o);
	nd_tmpl_set_free(set);
	json_decref(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_substitution),
		cmocka_unit_test(test_literal_braces),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_set_lookup_order),
		cmocka_unit_test(test_set_render_part),
		cmocka_unit_test(test_set_errors),
		cmocka_unit_test(test_set_overrides),
		cmocka_unit_test(test_lang_chain),
		cmocka_unit_test(test_set_languages),
		cmocka_unit_test(test_fallback),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
