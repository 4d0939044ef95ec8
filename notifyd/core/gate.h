/*
 * gate.h - notifyd's decisions as pure functions: whether one delivery
 * may start now (the gate), what a finished attempt comes to (the
 * attempt), and what the queue is told about an event once nothing of it
 * is in flight (the verdict)
 *
 * Each takes a struct of facts and returns a decision with its time and
 * reason; none logs, allocates, reads a clock or touches the store.  The
 * daemon gathers the facts (start.c, outcome.c, settle.c), calls these,
 * and acts: sets target states, counts, logs, writes.  So every branch can
 * be tested from a table (tests/unit/notifyd/test_gate.c), as the milter's
 * policy.c is.
 *
 * The breaker and the token bucket are plain data (breaker.h,
 * ratelimit.h): the gate works on copies handed in and hands back their
 * new state, which the caller stores.
 */
#ifndef GH_NOTIFYD_GATE_H
#define GH_NOTIFYD_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "breaker.h"
#include "quiet.h"
#include "ratelimit.h"

/* A rate-limit wait shorter than this is waited out in memory; a longer
 * one goes back to the queue. */
#define ND_GATE_WAIT_INLINE_MS 2000
/* A delivery that found no free slot of its channel for this long goes
 * back to the queue, so a slow receiver cannot fill memory and hold back
 * the others. */
#define ND_GATE_BUSY_WAIT_MS 10000

/* ---- the gate ---- */

/*
 * The gates, in this order: expiry, quiet hours (for the kinds that honour
 * them, below urgent priority, never for a digest), local kinds (written
 * in the recording transaction, no request), capacity (concurrency overall
 * and per channel), the channel's circuit breaker, its rate limit.
 */
enum nd_gate {
	ND_GATE_GO = 0,      /* start the request (out.probe: the breaker's) */
	ND_GATE_EXPIRED,     /* past expires_at: the event is expired */
	ND_GATE_HOLD,        /* no channel (a digest hold): nothing to start */
	ND_GATE_QUIET,       /* deferred to out.at, the quiet hours' end */
	ND_GATE_LOCAL,       /* a local kind: delivered when recorded */
	ND_GATE_WAIT_SLOT,   /* wait in memory until a request ends */
	ND_GATE_BUSY,        /* no slot for ND_GATE_BUSY_WAIT_MS: deferred */
	ND_GATE_BREAKER,     /* the breaker is open: deferred to out.at */
	ND_GATE_WAIT_RATE,   /* a rate token at out.at, soon: wait in memory */
	ND_GATE_RATE         /* the rate limit: deferred to out.at */
};

struct nd_gate_in {
	int64_t now;                  /* wall clock, ms */
	int64_t tick;                 /* monotonic ms, for the busy wait */
	int64_t expires_at;           /* the event's; 0: never */
	int priority;                 /* enum gh_priority */
	int digest;                   /* a digest event */
	int has_channel;              /* 0: a digest hold */
	/* the channel (when has_channel) */
	const char *chname;
	int kind_quiet;               /* its kind honours quiet hours */
	int kind_local;               /* its kind delivers in the store */
	int inflight, concurrency;    /* requests in flight overall, the cap */
	int ch_inflight, ch_concurrency;  /* the same for the channel */
	struct nd_breaker breaker;    /* a copy of the channel's */
	int limited;                  /* the channel has a rate limit */
	struct nd_tbucket bucket;     /* a copy of its bucket */
	/* the user (quiet NULL: no user, or no quiet hours) */
	const struct nd_quiet *quiet;
	const struct nd_tz *tz;       /* their zone; NULL: not judged */
	const char *user_id, *user_tz;   /* for the reason */
	/* the target */
	int waiting_for_slot;         /* it waits for a slot already */
	int64_t wait_since;           /* since then (tick) */
	int probe;                    /* it holds the breaker's probe */
};

struct nd_gate_out {
	enum nd_gate gate;
	int64_t at;                   /* QUIET, BUSY, BREAKER, RATE: deferred
	                                 to; WAIT_RATE: look again at */
	int64_t wait_since;           /* the target's, to keep */
	int probe;                    /* the target's, to keep */
	struct nd_breaker breaker;    /* the channel's, to keep */
	struct nd_tbucket bucket;     /* the channel's, to keep */
	char reason[160];             /* QUIET, BUSY, BREAKER, RATE */
};

/*
 * nd_gate_quiet_applies - whether the user's quiet hours are judged for
 * this delivery, i.e. whether the caller must look up in->tz (which may
 * log an unknown zone: looked up only when it matters).
 */
int nd_gate_quiet_applies(const struct nd_gate_in *in);

/* nd_gate_decide - the gate for one delivery; out is filled whole. */
void nd_gate_decide(const struct nd_gate_in *in, struct nd_gate_out *out);

/* "go", "expired", ... for tests and logs. */
const char *nd_gate_name(enum nd_gate g);

/* ---- the attempt ---- */

/*
 * What a finished request comes to, from the channel kind's outcome:
 * ok: delivered; permanent: dead at once; retry: tried again after the
 * channel's backoff, or dead once max_attempts are spent.  The breaker
 * counts a success for ok and permanent (the receiver answered) and a
 * failure for retry.
 */
enum nd_attempt {
	ND_ATTEMPT_DELIVERED = 0,
	ND_ATTEMPT_DEAD,              /* a permanent answer */
	ND_ATTEMPT_GAVE_UP,           /* retry, but max_attempts are spent */
	ND_ATTEMPT_RETRY              /* again at out.next_at */
};

struct nd_attempt_in {
	enum nd_outcome outcome;
	int attempts;                 /* this one included */
	int max_attempts;
	int64_t now;
	const struct nd_backoff *backoff;
	int64_t retry_after_ms;       /* the receiver's, or -1 */
	nd_rng_fn rng;                /* the backoff's jitter */
	void *rng_arg;
};

struct nd_attempt_out {
	enum nd_attempt attempt;
	int breaker_ok;               /* 1: a success for the breaker */
	int64_t delay;                /* RETRY: the wait */
	int64_t next_at;              /* RETRY: now + delay */
};

void nd_attempt_decide(const struct nd_attempt_in *in,
                       struct nd_attempt_out *out);

/* ---- the verdict ---- */

/*
 * What the queue is told about an event with nothing in flight: acked
 * (every delivery finished), dead (one died, nothing else is left),
 * retried (a delivery failed this round: an attempt counted), deferred
 * (waiting: quiet hours, a breaker, a rate limit, a digest's time; no
 * attempt counted), expired, or released (nothing moved and it is due
 * now: shutting down before it started).  A retry or defer is due at the
 * event's expires_at at the latest, so that it is settled as expired
 * when it expires rather than at its next attempt.
 */
enum nd_verdict {
	ND_V_ACK = 0,
	ND_V_DEAD,
	ND_V_RETRY,
	ND_V_DEFER,
	ND_V_RELEASE,
	ND_V_EXPIRE
};

/* Where a delivery stands at the end of the round. */
enum nd_vstate {
	ND_VS_OPEN = 0,   /* new or waiting: due as soon as possible */
	ND_VS_LATER,      /* to retry or deferred: due at next_at */
	ND_VS_DONE,       /* finished: delivered, skipped, held */
	ND_VS_DEAD,       /* finished: dead (this round or before) */
	ND_VS_EXPIRED     /* finished: expired */
};

struct nd_verdict_target {
	enum nd_vstate st;
	int64_t next_at;              /* ND_VS_LATER */
	int failed_now;               /* an attempt failed in this round */
	int moved;                    /* something to record this round */
};

/* The facts gathered over an event's deliveries (nd_verdict_add). */
struct nd_verdict_acc {
	int64_t now;
	int all_final, failed, dead, moved, expired;
	int64_t first;                /* the earliest due of what is left */
	size_t n;                     /* deliveries added */
	size_t culprit;               /* whose error the event shows */
	int culprit_dead;
};

#define ND_VERDICT_NONE ((size_t)-1)

struct nd_verdict_job {
	int64_t expires_at;           /* 0: never */
	int digest;                   /* a digest event ... */
	int64_t digest_slot;          /* ... and its send time */
};

struct nd_verdict_out {
	enum nd_verdict verdict;
	int64_t due;                  /* RETRY, DEFER: when it is due again */
	size_t culprit;               /* index of the delivery whose error the
	                                 event shows (a dead one first), or
	                                 ND_VERDICT_NONE */
};

/* Start, add each delivery in order, end: a fold, so no array is built. */
void nd_verdict_start(struct nd_verdict_acc *a, int64_t now);
void nd_verdict_add(struct nd_verdict_acc *a,
                    const struct nd_verdict_target *t);
void nd_verdict_end(const struct nd_verdict_acc *a,
                    const struct nd_verdict_job *job,
                    struct nd_verdict_out *out);

const char *nd_verdict_name(enum nd_verdict v);

#endif /* GH_NOTIFYD_GATE_H */
