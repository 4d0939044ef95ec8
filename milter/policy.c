/*
 * policy.c - outgoing and bulk classification (see policy.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "gatehouse/text.h"
#include "dkim/hdrlist.h"
#include "policy.h"

void
gm_policy_auth_user(gm_macro_fn get, void *ctx, char *out, size_t cap)
{
	const char *v = get ? get(ctx, "{auth_authen}") : NULL;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (v == NULL || *v == '\0')
		return;
	/* a login is an identity matched against the users database: escaped
	 * as the PAM module escapes user names, a '\' kept as it is */
	gh_text_escape(v, strlen(v), out, cap, GH_TEXT_IDENT, NULL);
}

int
gm_policy_outgoing(const struct gm_mcfg *c, int internal,
                   const char *auth_user, const char **why)
{
	if (c->sign_authenticated && auth_user && *auth_user) {
		*why = "authenticated";
		return 1;
	}
	if (internal) {
		*why = "internal host";
		return 1;
	}
	*why = "inbound";
	return 0;
}

void
gm_bulk_init(struct gm_bulk *b)
{
	memset(b, 0, sizeof(*b));
}

static int
name_is(const char *name, const char *want)
{
	return want && *want &&
	    gm_hdr_name_eq(name, strlen(name), want, strlen(want));
}

/* The first word of a value, lower-cased, for Precedence and markers. */
static void
first_word(const char *v, char *out, size_t cap)
{
	size_t o = 0;

	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	while (*v && !isspace((unsigned char)*v) && *v != ';' && o + 1 < cap)
		out[o++] = (char)tolower((unsigned char)*v++);
	out[o] = '\0';
}

/* List-Id: "Description <id>" or "<id>" or a bare id (RFC 2919). */
static void
list_id(const char *v, char *out, size_t cap)
{
	const char *lt = strrchr(v, '<'), *gt;
	char tmp[GH_LIST_ID_MAX + 1];
	size_t n, o = 0;

	if (lt && (gt = strchr(lt, '>')) != NULL) {
		v = lt + 1;
		n = (size_t)(gt - v);
	} else {
		n = strlen(v);
	}
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	gm_log_value(tmp, tmp, sizeof(tmp));
	for (const char *p = tmp; *p && o + 1 < cap; p++)
		if (*p != ' ')
			out[o++] = (char)tolower((unsigned char)*p);
	out[o] = '\0';
}

void
gm_bulk_header(const struct gm_mcfg *c, struct gm_bulk *b, const char *name,
               const char *value)
{
	char w[16];

	if (name_is(name, "Precedence")) {
		first_word(value, w, sizeof(w));
		if (strcmp(w, "bulk") == 0 || strcmp(w, "list") == 0 ||
		    strcmp(w, "junk") == 0)
			b->precedence = 1;
	} else if (name_is(name, "List-Id")) {
		if (!b->list_id)
			list_id(value, b->list, sizeof(b->list));
		b->list_id = 1;
	} else if (name_is(name, "List-Unsubscribe")) {
		b->list_unsubscribe = 1;
	}
	if (name_is(name, c->bulk_header))
		b->marker = 1;
	if (name_is(name, c->transactional_header)) {
		first_word(value, w, sizeof(w));
		if (strcmp(w, "no") != 0 && strcmp(w, "0") != 0 &&
		    strcmp(w, "false") != 0)
			b->transactional = 1;
	}
}

int
gm_bulk_is_bulk(const struct gm_bulk *b)
{
	return !b->transactional && (b->precedence || b->list_id || b->marker);
}

const char *
gm_bulk_why(const struct gm_bulk *b)
{
	if (!gm_bulk_is_bulk(b))
		return NULL;
	if (b->list_id)
		return "List-Id";
	if (b->precedence)
		return "Precedence";
	return "bulk header";
}
