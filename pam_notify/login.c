/*
 * login.c - copy and clean what PAM tells us about a login.
 *
 * User names, tty names and host names reach us from the network (sshd
 * passes the name a client typed, valid account or not), so they are
 * treated as hostile bytes: bounded and escaped (gh_text_escape: valid
 * UTF-8 for the JSON event, no control character that could forge log or
 * mail lines).
 */
#include <string.h>
#include <unistd.h>

#include "gatehouse/text.h"
#include "login.h"

/* One field from a PAM item (NULL is ""): escaped by the one rule every
 * producer uses (gatehouse/text.h), so the same odd name reads the same in
 * a login event, a mail log and an upload record. */
static void
field(const char *s, char *out, size_t cap, unsigned flags)
{
	gh_text_escape(s, s != NULL ? strlen(s) : 0, out, cap, flags, NULL);
}

void
gp_login_fill(struct gp_login *l, const char *user, const char *ruser,
                  const char *tty, const char *service, const char *rhost,
                  int v4_prefix, int v6_prefix, int64_t now)
{
	memset(l, 0, sizeof(*l));
	/* user names are identities (DOMAIN\user): their '\' stays one */
	field(user, l->user, sizeof(l->user), GH_TEXT_IDENT);
	field(ruser, l->ruser, sizeof(l->ruser), GH_TEXT_IDENT);
	field(tty, l->tty, sizeof(l->tty), 0);
	field(service, l->service, sizeof(l->service), 0);
	field(rhost, l->rhost, sizeof(l->rhost), 0);
	l->origin = gp_addr_canon(rhost, l->addr, sizeof(l->addr));
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		gp_netkey(rhost, v4_prefix, v6_prefix, l->net,
		              sizeof(l->net));
	if (gethostname(l->host, sizeof(l->host) - 1) != 0 || !l->host[0])
		memcpy(l->host, "localhost", sizeof("localhost"));
	l->host[sizeof(l->host) - 1] = '\0';
	l->now = now;
}
