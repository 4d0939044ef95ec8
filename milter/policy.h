/*
 * policy.h - which mail is outgoing (signed, rate limited) and which is
 * bulk (subject to the suppression list, given List-Unsubscribe)
 *
 * OUTGOING
 *   A message is outgoing when its client authenticated with SMTP AUTH
 *   (the {auth_authen} macro is set and [milter] sign_authenticated is on)
 *   or connected from [milter] internal_hosts.  Nothing else: mail merely
 *   passing through inbound is never signed, whatever its From says.
 *   Postfix hands mail submitted with sendmail(1) (non_smtpd_milters) to
 *   the milter as a connection from 127.0.0.1, so it counts as internal as
 *   long as 127.0.0.0/8 is listed.
 *
 * BULK
 *   A message is bulk when it carries Precedence: bulk, list or junk, a
 *   List-Id field, or the admin's [milter] bulk_header; unless it carries
 *   [milter] transactional_header (with any value but "no" or "0"), which
 *   always wins: a password reset that a framework marked "Precedence: bulk"
 *   must still arrive.  Only bulk mail consults the suppression list.
 *
 * The macro lookup is a function pointer so that tests can run the policy
 * without libmilter.
 */
#ifndef GH_MILTER_POLICY_H
#define GH_MILTER_POLICY_H

#include <stddef.h>

#include "mcfg.h"

#define GH_LIST_ID_MAX 255	/* fits one token field */

/* Fetch a macro ("{auth_authen}", "i") or NULL: smfi_getsymval's shape. */
typedef const char *(*gm_macro_fn)(void *ctx, const char *name);

/*
 * gm_policy_auth_user - the SMTP AUTH login from the macros into out (""
 * when unauthenticated).
 */
void gm_policy_auth_user(gm_macro_fn get, void *ctx, char *out, size_t cap);

/*
 * gm_policy_outgoing - 1 if the message is outgoing, with *why set to
 * "authenticated" or "internal host"; 0 with *why "inbound" otherwise.
 * internal: the client address matched internal_hosts (checked once per
 * connection).
 */
int gm_policy_outgoing(const struct gm_mcfg *c, int internal,
    const char *auth_user, const char **why);

/* What the header fields said about bulkness, filled field by field. */
struct gm_bulk {
	int precedence;		/* Precedence: bulk|list|junk */
	int list_id;		/* a List-Id field */
	int marker;		/* [milter] bulk_header present */
	int transactional;	/* [milter] transactional_header present */
	int list_unsubscribe;	/* the message already has one */
	char list[GH_LIST_ID_MAX + 1];	/* List-Id's id, lower case, or "" */
};

void gm_bulk_init(struct gm_bulk *b);

/* gm_bulk_header - look at one header field (value as libmilter gives). */
void gm_bulk_header(const struct gm_mcfg *c, struct gm_bulk *b,
    const char *name, const char *value);

/* gm_bulk_is_bulk - 1 for bulk mail that is not marked transactional. */
int gm_bulk_is_bulk(const struct gm_bulk *b);

/* gm_bulk_why - a short reason for the log ("List-Id", "Precedence", ...),
 * or NULL when not bulk. */
const char *gm_bulk_why(const struct gm_bulk *b);

#endif /* GH_MILTER_POLICY_H */
