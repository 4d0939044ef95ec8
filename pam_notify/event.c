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

static int
set_str(json_t *obj, const char *key, const char *val)
{
	json_t *s;

	if (val == NULL || val[0] == '\0')
		return 0;
	s = json_string(val);
	return s == NULL ? -1 : json_object_set_new(obj, key, s);
}

int
gh_pam_fmt(char *out, size_t outlen, const char *fmt, ...)
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
gh_pam_where(const struct gh_pam_login *l, char *out, size_t outlen)
{
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		gh_pam_fmt(out, outlen, "%s", l->addr);
	else if (l->tty[0] != '\0')
		gh_pam_fmt(out, outlen, "the console (%s)", l->tty);
	else
		gh_pam_fmt(out, outlen, "%s", "the console");
}

json_t *
gh_pam_event_new(const char *type, const char *user, const char *title,
                 const char *message, int priority, const char *dedup_key,
                 json_t *metadata, const struct gh_pam_login *l)
{
	json_t *ev = json_object();
	json_t *md = metadata != NULL ? metadata : json_object();
	int rc = 0;

	if (ev == NULL || md == NULL)
		goto fail;
	rc |= set_str(ev, "type", type);
	rc |= set_str(ev, "category", "security");
	rc |= set_str(ev, "user", user);
	rc |= set_str(ev, "title", title);
	rc |= set_str(ev, "message", message);
	rc |= set_str(ev, "source", "pam");
	rc |= set_str(ev, "dedup_key", dedup_key);
	rc |= json_object_set_new(ev, "priority", json_integer(priority));
	rc |= set_str(md, "host", l->host);
	rc |= set_str(md, "service", l->service);
	rc |= set_str(md, "tty", l->tty);
	rc |= set_str(md, "rhost", l->rhost);
	rc |= set_str(md, "ruser", l->ruser);
	if (rc != 0)
		goto fail;
	if (json_object_set_new(ev, "metadata", md) != 0) {
		md = NULL;  /* set_new released it */
		goto fail;
	}
	return ev;
fail:
	json_decref(md);
	json_decref(ev);
	return NULL;
}
