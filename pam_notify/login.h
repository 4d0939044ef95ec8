/*
 * login.h - the facts of one PAM call, copied out of the PAM handle
 *
 * Everything the store work needs is copied here, cleaned and bounded, in
 * fixed-size fields: the struct can then be handed to a forked child as it
 * is, and no pointer into PAM's memory outlives the call.
 */
#ifndef GH_PAM_LOGIN_H
#define GH_PAM_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "netkey.h"

#define GH_PAM_USER_MAX 257     /* 256 bytes of user name + NUL */
#define GH_PAM_FIELD_MAX 129    /* tty, service, ruser */

struct gp_login {
	char user[GH_PAM_USER_MAX];     /* PAM_USER; "" when unknown */
	char ruser[GH_PAM_FIELD_MAX];   /* PAM_RUSER (sudo, su) */
	char tty[GH_PAM_FIELD_MAX];     /* PAM_TTY */
	char service[GH_PAM_FIELD_MAX]; /* PAM_SERVICE */
	char rhost[GH_PAM_NETKEY_MAX];  /* PAM_RHOST as given, cleaned */
	char addr[GH_PAM_NETKEY_MAX];   /* canonical address; "" if local */
	char net[GH_PAM_NETKEY_MAX];    /* network key; "" if local */
	enum gp_origin origin;
	char host[256];                 /* this machine's name */
	int64_t now;                    /* ms since the epoch */
};

/*
 * gp_login_fill - fill l from the raw PAM items (any may be NULL).
 * Strings are escaped by gh_text_escape (gatehouse/text.h; user and
 * ruser with GH_TEXT_IDENT, so a '\' in a name stays one) and cut to their
 * field with GH_TEXT_CUT_MARK.
 */
void gp_login_fill(struct gp_login *l, const char *user,
                       const char *ruser, const char *tty,
                       const char *service, const char *rhost,
                       int v4_prefix, int v6_prefix, int64_t now);

#endif
