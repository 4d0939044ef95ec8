/*
 * msg.h - per-connection and per-message state of gatehouse-milter
 *
 * A struct gm_conn is made at xxfi_connect and set with smfi_setpriv; it
 * pins the configuration of that moment (mcfg.h) until xxfi_close.  A
 * struct gm_msg lives from xxfi_envfrom to the end of that message (eom or
 * abort) and holds what the mail log needs, the DKIM session and the scan
 * spool.  Everything a message keeps is bounded: recipients
 * (GH_MSG_MAX_RCPTS, then up to GH_MSG_MAX_LISTED more, see RECIPIENTS),
 * logged header values (cut to GH_MSG_VALUE_MAX), header fields for signing
 * (hdrlist.h's bounds).
 *
 * RECIPIENTS
 *   The first GH_MSG_MAX_RCPTS recipients are kept (the mail log lists
 *   them, the opt-out checks them at the end of the message).  Past those,
 *   the opt-out must still reach every recipient, but whether the message
 *   is bulk and which List-Id it has are only known from the header, after
 *   the last RCPT.  So a recipient past the bound is looked up as it
 *   arrives (optout.h, gm_optout_listed): one on the suppression list for
 *   any list is kept too, up to GH_MSG_MAX_LISTED of them, and checked at
 *   the end like the others; one that is not listed at all cannot be
 *   suppressed, and is only counted (rcpt_total).  A listed recipient past
 *   both bounds is refused with 452 4.5.3 (the callbacks), which SMTP
 *   clients retry in another transaction (RFC 5321, 4.5.3.1.10): never let
 *   through unchecked.
 */
#ifndef GH_MILTER_MSG_H
#define GH_MILTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "dkim/dkim.h"
#include "mcfg.h"
#include "policy.h"
#include "scan.h"
#include "signtable.h"

#define GH_MSG_MAX_RCPTS 1000	/* Postfix's smtpd_recipient_limit */
#define GH_MSG_MAX_LISTED 1000	/* kept past GH_MSG_MAX_RCPTS: listed ones */
#define GH_MSG_VALUE_MAX 512	/* logged From, Subject, Message-ID */
#define GH_QUEUE_ID_MAX 64
#define GH_USER_MAX 256

struct gm_rcpt {
	char addr[GH_MADDR_MAX + 1];
	int suppressed;
};

struct gm_sigdesc {
	char d[256];
	char s[256];
	const char *a;		/* static algorithm name */
};

typedef enum gm_action {
	GH_ACT_ACCEPT = 0,
	GH_ACT_REJECT,
	GH_ACT_TEMPFAIL,
	GH_ACT_DISCARD,
	GH_ACT_ABORTED		/* the MTA or the client gave up */
} gm_action;

const char *gm_action_name(gm_action a);

struct gm_msg {
	int64_t started_at;		/* ms */
	char queue_id[GH_QUEUE_ID_MAX];
	char sender[GH_MADDR_MAX + 1];
	char auth_user[GH_USER_MAX];
	struct gm_rcpt *rcpts;		/* [GH_MSG_MAX_RCPTS..]: listed ones */
	size_t nrcpt, rcap;
	size_t rcpt_total;		/* including those not kept */
	size_t rcpt_refused;		/* 452 4.5.3: past both bounds */

	char from[GH_MSG_VALUE_MAX];
	char subject[GH_MSG_VALUE_MAX];
	char message_id[GH_MSG_VALUE_MAX];
	char ctype[64];			/* Content-Type type/subtype, lower */
	int not_plain;			/* a Content-Type field, the first or
					 * a later one, that is not text/plain */
	/* uuencode in the body (gm_msg_body_text) */
	char uu_line[12];		/* the start of the current line */
	size_t uu_len;
	int uu_skip;			/* the rest of the line is not one */
	int uuencoded;			/* a "begin NNN name" line was seen */
	char from_addr[GH_MADDR_MAX + 1];
	int nfrom;			/* From fields seen */
	struct gm_bulk bulk;
	int data;			/* the DATA command was seen */
	int eoh;			/* end_of_header() has run */
	uint64_t size;			/* header + body bytes, CRLF counted */
	size_t nhdr;
	int header_err;			/* the DKIM core refused a header */

	int outgoing;
	const char *outgoing_why;

	struct gm_dkim_msg *dkim;	/* NULL: not signing */
	const char *unsigned_why;	/* why an outgoing message is unsigned */
	struct gm_sigdesc sigs[GH_SIGN_PER_DOMAIN];
	size_t nsigs;
	int signed_ok;			/* signatures were made */

	int spooling;			/* spool is open */
	struct gm_spool spool;
	const char *scan;		/* "clean", "infected", "unscannable",
					 * "error", "skipped", NULL */
	char scan_detail[GH_VIRNAME_MAX];

	int unsub_added;		/* List-Unsubscribe added */

	/* the verdict cache ([milter] scan_cache, scanner/gscache.h) */
	int scan_cached;		/* the verdict came from the cache */
	int cache_put;			/* write cache_v with the mail log */
	unsigned char cache_key[64];
	struct gscan_verdict cache_v;
};

struct gm_conn {
	struct gm_mcfg *cfg;		/* pinned; one reference */
	char addr[64];			/* client address, "" if unknown */
	char name[256];			/* client host name as the MTA says */
	int internal;			/* addr matched internal_hosts */
	unsigned long nmsgs;
	struct gm_msg *msg;		/* the message in progress, or NULL */
};

/* gm_msg_new - a fresh message (all strings empty); NULL on ENOMEM. */
struct gm_msg *gm_msg_new(int64_t now);

/* gm_msg_free - the message, its DKIM session and spool; NULL is fine. */
void gm_msg_free(struct gm_msg *m);

/* gm_msg_rcpts_full - 1 when the next recipient is past
 * GH_MSG_MAX_RCPTS: it is kept only if listed (see RECIPIENTS). */
int gm_msg_rcpts_full(const struct gm_msg *m);

/*
 * gm_msg_add_rcpt - record an envelope recipient: kept when the message
 * is not full, or when listed (on the suppression list for some list) and
 * fewer than GH_MSG_MAX_LISTED are kept past the bound; counted only
 * otherwise.  GH_ETOOBIG for a listed one past both bounds, GH_ENOMEM;
 * a recipient refused so is not counted either.
 */
gh_err gm_msg_add_rcpt(struct gm_msg *m, const char *arg, int listed);

/* gm_msg_header - note what the log and policy want from a field. */
void gm_msg_header(const struct gm_mcfg *c, struct gm_msg *m,
    const char *name, const char *value);

/* gm_msg_body_text - look for a uuencoded part in a body chunk: a line
 * "begin NNN name" as libclamav's mail parser finds it (the chunks in
 * order; a line may span chunks). */
void gm_msg_body_text(struct gm_msg *m, const unsigned char *chunk,
    size_t len);

/* gm_msg_plain_text - 1 for a message that is plain text throughout:
 * every Content-Type field (usually one; a second one is honoured by some
 * readers) absent or text/plain, and no uuencoded part in the body seen
 * so far.  Nothing attached, nothing for a scanner but the text. */
int gm_msg_plain_text(const struct gm_msg *m);

/* gm_msg_remaining - recipients not suppressed (those not kept were not
 * listed, so they all remain). */
size_t gm_msg_remaining(const struct gm_msg *m);

#endif /* GH_MILTER_MSG_H */
