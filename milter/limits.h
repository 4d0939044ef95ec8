/*
 * limits.h - [ratelimit]: messages and recipients per window per SMTP AUTH
 * user, per envelope sender and per envelope sender domain, counted in the
 * store (records.h's sliding-window counters), so limits hold across
 * restarts and across several milter processes on one store.
 *
 * KEYS (GH_DB_RATE, documented in docs/store.md's rate section)
 *   milter:user:LOGIN          milter:user-rcpt:LOGIN
 *   milter:sender:ADDRESS      milter:sender-rcpt:ADDRESS
 *   milter:domain:DOMAIN       milter:domain-rcpt:DOMAIN
 *   Addresses and domains lower case; subjects cut to fit 200 bytes.
 *
 * A message is checked against every limit that applies before anything
 * is counted: if one would be exceeded, nothing is counted (a refused
 * message does not use up the sender's allowance) and the first limit hit
 * is reported.  Otherwise every applicable counter is increased.  The null
 * sender (bounces) has no sender or domain limit.
 */
#ifndef GH_MILTER_LIMITS_H
#define GH_MILTER_LIMITS_H

#include <stdint.h>

#include "gatehouse/store.h"
#include "mcfg.h"

#define GH_LIMIT_KEY_MAX 200

struct gm_limit_hit {
	const char *scope;	/* "user", "sender", "domain" */
	const char *what;	/* "messages", "recipients" */
	char subject[GH_LIMIT_KEY_MAX];
	long long limit;
	uint64_t count;		/* the count the message would have made */
};

/*
 * gm_limits_apply_txn - inside the caller's write transaction.  *over is 1
 * with hit filled when a limit would be exceeded (nothing counted), 0 when
 * the message was counted.  auth_user and sender may be "".
 */
gh_err gm_limits_apply_txn(struct gh_txn *txn, const struct gm_limits *l,
    const char *auth_user, const char *sender, uint64_t nrcpt, int64_t now,
    int *over, struct gm_limit_hit *hit);

#endif /* GH_MILTER_LIMITS_H */
