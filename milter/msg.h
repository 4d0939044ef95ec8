/*
 * msg.h - per-connection and per-message state of gatehouse-milter
 *
 * A struct gh_conn is made at xxfi_connect and set with smfi_setpriv; it
 * pins the configuration of that moment (mcfg.h) until xxfi_close.  A
 * struct gh_msg lives from xxfi_envfrom to the end of that message (eom or
 * abort) and holds what the mail log needs, the DKIM session and the scan
 * spool.  Everything a message keeps is bounded: recipients
 * (GH_MSG_MAX_RCPTS, counted past that), logged header values (cut to
 * GH_MSG_VALUE_MAX), header fields for signing (hdrlist.h's bounds).
 */
#ifndef GH_MILTER_MSG_H
#define GH_MILTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "dkim.h"
#include "mcfg.h"
#include "policy.h"
#include "scan.h"
#include "signtable.h"

#define GH_MSG_MAX_RCPTS 1000	/* Postfix's smtpd_recipient_limit */
#define GH_MSG_VALUE_MAX 512	/* logged From, Subject, Message-ID */
#define GH_QUEUE_ID_MAX 64
#define GH_USER_MAX 256

struct gh_rcpt {
	char addr[GH_MADDR_MAX + 1];
	int suppressed;
};

struct gh_sigdesc {
	char d[256];
	char s[256];
	const char *a;		/* static algorithm name */
};

typedef enum gh_action {
	GH_ACT_ACCEPT = 0,
	GH_ACT_REJECT,
	GH_ACT_TEMPFAIL,
	GH_ACT_DISCARD,
	GH_ACT_ABORTED		/* the MTA or the client gave up */
} gh_action;

const char *gh_action_name(gh_action a);

struct gh_msg {
	int64_t started_at;		/* ms */
	char queue_id[GH_QUEUE_ID_MAX];
	char sender[GH_MADDR_MAX + 1];
	char auth_user[GH_USER_MAX];
	struct gh_rcpt *rcpts;
	size_t nrcpt, rcap;
	size_t rcpt_total;		/* including those past the bound */

	char from[GH_MSG_VALUE_MAX];
	char subject[GH_MSG_VALUE_MAX];
	char message_id[GH_MSG_VALUE_MAX];
	char ctype[64];			/* Content-Type type/subtype, lower */
	char from_addr[GH_MADDR_MAX + 1];
	int nfrom;			/* From fields seen */
	struct gh_bulk bulk;
	int data;			/* the DATA command was seen */
	int eoh;			/* end_of_header() has run */
	uint64_t size;			/* header + body bytes, CRLF counted */
	size_t nhdr;
	int header_err;			/* the DKIM core refused a header */

	int outgoing;
	const char *outgoing_why;

	struct gh_dkim_msg *dkim;	/* NULL: not signing */
	const char *unsigned_why;	/* why an outgoing message is unsigned */
	struct gh_sigdesc sigs[GH_SIGN_PER_DOMAIN];
	size_t nsigs;
	int signed_ok;			/* signatures were made */

	int spooling;			/* spool is open */
	struct gh_spool spool;
	const char *scan;		/* "clean", "infected", "error", NULL */
	char scan_detail[GH_VIRNAME_MAX];

	int unsub_added;		/* List-Unsubscribe added */
};

struct gh_conn {
	struct gh_mcfg *cfg;		/* pinned; one reference */
	char addr[64];			/* client address, "" if unknown */
	char name[256];			/* client host name as the MTA says */
	int internal;			/* addr matched internal_hosts */
	unsigned long nmsgs;
	struct gh_msg *msg;		/* the message in progress, or NULL */
};

/* gh_msg_new - a fresh message (all strings empty); NULL on ENOMEM. */
struct gh_msg *gh_msg_new(int64_t now);

/* gh_msg_free - the message, its DKIM session and spool; NULL is fine. */
void gh_msg_free(struct gh_msg *m);

/* gh_msg_add_rcpt - record an envelope recipient (counted past the
 * bound, kept up to it).  GH_ENOMEM. */
gh_err gh_msg_add_rcpt(struct gh_msg *m, const char *arg);

/* gh_msg_header - note what the log and policy want from a field. */
void gh_msg_header(const struct gh_mcfg *c, struct gh_msg *m,
    const char *name, const char *value);

/* gh_msg_plain_text - 1 for a message whose Content-Type is absent or
 * text/plain: a single text part, nothing attached. */
int gh_msg_plain_text(const struct gh_msg *m);

/* gh_msg_remaining - recipients not suppressed. */
size_t gh_msg_remaining(const struct gh_msg *m);

#endif /* GH_MILTER_MSG_H */
