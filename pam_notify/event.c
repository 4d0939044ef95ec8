/*
 * event.c - build the JSON events of pam_gatehouse.
 *
 * Only the fields of the contract appear at the top level (gh_event_validate
 * rejects anything else); what a login adds goes into metadata, where
 * notifyd's templates find it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/text.h"
#include "event.h"

int
gp_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t end;

	if (outlen == 0)
		return 1;
	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out[0] = '\0';
		return 1;
	}
	if ((size_t)n < outlen)
		return 0;
	/* cut by vsnprintf: not inside a character */
	end = gh_utf8_trim(out, outlen - 1);
	out[end] = '\0';
	return 1;
}

void
gp_where(const struct gp_login *l, char *out, size_t outlen)
{
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		gp_fmt(out, outlen, "%s", l->addr);
	else if (l->tty[0] != '\0')
		gp_fmt(out, outlen, "the console (%s)", l->tty);
	else
		gp_fmt(out, outlen, "%s", "the console");
}

/* NULL for "": pam_gatehouse leaves a member out rather than empty. */
static const char *
nz(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* A login's detail, in metadata when the login has it. */
static void
meta(struct gh_event *b, const char *key, const char *val)
{
	if (nz(val) != NULL)
		gh_event_meta_str(b, key, val);
}

gh_err
gp_event_new(const char *type, const char *user, const char *title,
                 const char *message, enum gh_priority priority,
                 const char *dedup_key, json_t *metadata,
                 const struct gp_login *l, json_t **out)
{
	struct gh_event *b = gh_event_new();

	gh_event_set_type(b, nz(type));
	gh_event_set_category(b, "security");
	gh_event_set_user(b, nz(user));
	gh_event_set_title(b, nz(title));
	gh_event_set_message(b, nz(message));
	gh_event_set_source(b, "pam");
	gh_event_set_dedup_key(b, nz(dedup_key));
	gh_event_set_priority(b, priority);
	if (metadata == NULL)
		metadata = json_object();
	gh_event_set_metadata_new(b, metadata);
	meta(b, "host", l->host);
	meta(b, "service", l->service);
	meta(b, "tty", l->tty);
	meta(b, "rhost", l->rhost);
	meta(b, "ruser", l->ruser);
	return gh_event_finish(b, out, NULL, 0);
}
