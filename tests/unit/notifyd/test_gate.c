/*
 * test_gate.c - unit tests of notifyd's decisions (notifyd/core/gate.c):
 * the gate (may a delivery start now), the attempt (what a finished
 * request comes to) and the verdict (what the queue is told about an
 * event), each from a table with a row per branch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gatehouse/queue.h"
#include "../../../notifyd/core/gate.h"
#include "../../../notifyd/core/tzfile.h"

#define NOW 1767614400000LL      /* 2026-01-05 12:00 UTC, a Monday */
#define TICK 5000000LL
#define ANY INT64_MIN            /* a time the row does not check */

/* ---- the gate ---- */

enum brk { B_CLOSED, B_OPEN, B_COOLED, B_PROBING };
enum rate { R_NONE, R_TOKEN, R_SHORT, R_LONG };
enum busy { BUSY_NO, BUSY_ALL, BUSY_CHANNEL };

struct gate_row {
	const char *name;
	/* the facts, as differences from a delivery that may go */
	int64_t expires;          /* offset from NOW; 0: never */
	int expires_now;          /* expires_at = NOW */
	int no_channel;
	int quiet_start, quiet_end;   /* minutes; both 0: no quiet hours */
	int no_tz;                /* the user's zone unknown */
	int priority;             /* 0: normal */
	int digest;
	int kind_not_quiet;
	int kind_local;
	enum busy busy;
	int waiting;              /* already waiting for a slot ... */
	int64_t waited;           /* ... for this long */
	enum brk breaker;
	enum rate rate;
	int probe;                /* the target holds the probe */
	/* the decision */
	enum nd_gate want;
	int64_t at;               /* offset from NOW, or ANY */
	const char *reason;       /* a part of it, or NULL: none */
	int want_probe;
};

static const struct gate_row gate_rows[] = {
	{.name = "free", .want = ND_GATE_GO, .at = ANY},
	{.name = "expires now", .expires_now = 1, .want = ND_GATE_EXPIRED,
	 .at = ANY},
	{.name = "expired", .expires = -1, .want = ND_GATE_EXPIRED, .at = ANY},
	{.name = "expires later", .expires = 1, .want = ND_GATE_GO, .at = ANY},
	{.name = "digest hold", .no_channel = 1, .want = ND_GATE_HOLD,
	 .at = ANY},
	{.name = "expiry before the hold", .no_channel = 1, .expires = -1,
	 .want = ND_GATE_EXPIRED, .at = ANY},
	{.name = "quiet hours", .quiet_start = 11 * 60, .quiet_end = 13 * 60,
	 .want = ND_GATE_QUIET, .at = 3600000,
	 .reason = "quiet hours of alice (11:00-13:00 UTC)"},
	{.name = "quiet, but urgent", .quiet_start = 11 * 60,
	 .quiet_end = 13 * 60, .priority = GH_PRIORITY_URGENT,
	 .want = ND_GATE_GO, .at = ANY},
	{.name = "quiet, high is held", .quiet_start = 11 * 60,
	 .quiet_end = 13 * 60, .priority = GH_PRIORITY_HIGH,
	 .want = ND_GATE_QUIET, .at = 3600000, .reason = "quiet hours"},
	{.name = "quiet, but a digest", .quiet_start = 11 * 60,
	 .quiet_end = 13 * 60, .digest = 1, .want = ND_GATE_GO, .at = ANY},
	{.name = "quiet, kind ignores it", .quiet_start = 11 * 60,
	 .quiet_end = 13 * 60, .kind_not_quiet = 1, .want = ND_GATE_GO,
	 .at = ANY},
	{.name = "quiet, zone unknown", .quiet_start = 11 * 60,
	 .quiet_end = 13 * 60, .no_tz = 1, .want = ND_GATE_GO, .at = ANY},
	{.name = "outside quiet hours", .quiet_start = 13 * 60,
	 .quiet_end = 14 * 60, .want = ND_GATE_GO, .at = ANY},
	{.name = "quiet across midnight", .quiet_start = 22 * 60,
	 .quiet_end = 13 * 60, .want = ND_GATE_QUIET, .at = 3600000,
	 .reason = "(22:00-13:00 UTC)"},
	{.name = "local kind", .kind_local = 1, .want = ND_GATE_LOCAL,
	 .at = ANY},
	{.name = "quiet before local", .kind_local = 1,
	 .quiet_start = 11 * 60, .quiet_end = 13 * 60, .want = ND_GATE_QUIET,
	 .at = 3600000, .reason = "quiet"},
	{.name = "local ignores capacity", .kind_local = 1, .busy = BUSY_ALL,
	 .want = ND_GATE_LOCAL, .at = ANY},
	{.name = "no slot overall", .busy = BUSY_ALL, .want = ND_GATE_WAIT_SLOT,
	 .at = ANY},
	{.name = "no slot of the channel", .busy = BUSY_CHANNEL,
	 .want = ND_GATE_WAIT_SLOT, .at = ANY},
	{.name = "waited for a slot, not long", .busy = BUSY_ALL, .waiting = 1,
	 .waited = ND_GATE_BUSY_WAIT_MS - 1, .want = ND_GATE_WAIT_SLOT,
	 .at = ANY},
	{.name = "waited for a slot too long", .busy = BUSY_CHANNEL,
	 .waiting = 1, .waited = ND_GATE_BUSY_WAIT_MS, .want = ND_GATE_BUSY,
	 .at = ND_GATE_BUSY_WAIT_MS,
	 .reason = "mail is busy (2 requests in flight)"},
	{.name = "an old wait that was not for a slot", .busy = BUSY_ALL,
	 .waited = ND_GATE_BUSY_WAIT_MS * 5, .want = ND_GATE_WAIT_SLOT,
	 .at = ANY},
	{.name = "breaker open", .breaker = B_OPEN, .want = ND_GATE_BREAKER,
	 .at = 60000 - 1000 + 1, .reason = "the circuit breaker of mail is open"},
	{.name = "breaker cooled: the probe", .breaker = B_COOLED,
	 .want = ND_GATE_GO, .at = ANY, .want_probe = 1},
	{.name = "breaker's probe out", .breaker = B_PROBING,
	 .want = ND_GATE_BREAKER, .at = ANY, .reason = "circuit breaker"},
	{.name = "a held probe is dropped when the breaker says no",
	 .breaker = B_OPEN, .probe = 1, .want = ND_GATE_BREAKER, .at = ANY,
	 .want_probe = 0},
	{.name = "rate token", .rate = R_TOKEN, .want = ND_GATE_GO, .at = ANY},
	{.name = "rate token soon", .rate = R_SHORT, .want = ND_GATE_WAIT_RATE,
	 .at = 1000},
	{.name = "rate token later", .rate = R_LONG, .want = ND_GATE_RATE,
	 .at = 60000, .reason = "rate limit of mail"},
	{.name = "the probe goes back when rate limited", .breaker = B_COOLED,
	 .rate = R_LONG, .want = ND_GATE_RATE, .at = 60000,
	 .reason = "rate limit", .want_probe = 0},
	{.name = "breaker before rate", .breaker = B_OPEN, .rate = R_LONG,
	 .want = ND_GATE_BREAKER, .at = ANY, .reason = "breaker"},
	{.name = "capacity before breaker", .breaker = B_OPEN,
	 .busy = BUSY_ALL, .want = ND_GATE_WAIT_SLOT, .at = ANY},
};

static void
test_gate_table(void **state)
{
	struct nd_tz *utc = NULL;

	(void)state;
	assert_int_equal(nd_tz_utc(&utc), GH_OK);
	for (size_t i = 0; i < sizeof(gate_rows) / sizeof(gate_rows[0]); i++) {
		const struct gate_row *r = &gate_rows[i];
		struct nd_quiet q = {r->quiet_start, r->quiet_end};
		struct nd_gate_in in;
		struct nd_gate_out out;
		int64_t w;

		memset(&in, 0, sizeof(in));
		in.now = NOW;
		in.tick = TICK;
		in.expires_at = r->expires ? NOW + r->expires : 0;
		if (r->expires_now)
			in.expires_at = NOW;
		in.priority = r->priority ? r->priority : GH_PRIORITY_NORMAL;
		in.digest = r->digest;
		in.has_channel = !r->no_channel;
		in.chname = "mail";
		in.kind_quiet = !r->kind_not_quiet;
		in.kind_local = r->kind_local;
		in.concurrency = 8;
		in.ch_concurrency = 2;
		in.inflight = r->busy == BUSY_ALL ? 8 : 2;
		in.ch_inflight = r->busy == BUSY_CHANNEL ? 2 : 0;
		nd_breaker_init(&in.breaker, 3, 60000);
		if (r->breaker != B_CLOSED) {
			in.breaker.state = GH_BREAKER_OPEN;
			in.breaker.opened_at = NOW - (r->breaker == B_OPEN ? 1000 :
			                              60000);
		}
		if (r->breaker == B_PROBING) {
			in.breaker.state = GH_BREAKER_HALF_OPEN;
			in.breaker.probing = 1;
		}
		in.limited = r->rate != R_NONE;
		if (in.limited) {
			/* one token per second or per minute, used up unless
			 * the row wants one */
			assert_int_equal(nd_tbucket_init(&in.bucket, 1,
			                 r->rate == R_SHORT ? 1000 : 60000, 1, NOW),
			                 GH_OK);
			if (r->rate != R_TOKEN)
				assert_true(nd_tbucket_take(&in.bucket, NOW, &w));
		}
		if (r->quiet_start || r->quiet_end) {
			in.quiet = &q;
			in.user_id = "alice";
			in.user_tz = NULL;
		}
		in.waiting_for_slot = r->waiting;
		in.wait_since = TICK - r->waited;
		in.probe = r->probe;
		if (nd_gate_quiet_applies(&in) && !r->no_tz)
			in.tz = utc;

		nd_gate_decide(&in, &out);
		if (out.gate != r->want)
			fail_msg("%s: %s, wanted %s", r->name,
			         nd_gate_name(out.gate), nd_gate_name(r->want));
		if (r->at != ANY && out.at != NOW + r->at)
			fail_msg("%s: at %+lld, wanted %+lld", r->name,
			         (long long)(out.at - NOW), (long long)r->at);
		if (r->reason && strstr(out.reason, r->reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", r->name, out.reason,
			         r->reason);
		if (r->reason == NULL && out.gate != ND_GATE_BREAKER &&
		    out.reason[0] != '\0')
			fail_msg("%s: unexpected reason '%s'", r->name, out.reason);
		if ((out.gate == ND_GATE_GO || out.gate >= ND_GATE_BREAKER) &&
		    out.probe != r->want_probe)
			fail_msg("%s: probe %d, wanted %d", r->name, out.probe,
			         r->want_probe);
		/* the slot wait starts when first found busy, and only then */
		if (out.gate == ND_GATE_WAIT_SLOT)
			assert_int_equal(out.wait_since,
			                 r->waiting ? TICK - r->waited : TICK);
	}
	nd_tz_free(utc);
}

/* The state the gate hands back: the caller keeps it. */
static void
test_gate_state(void **state)
{
	struct nd_gate_in in;
	struct nd_gate_out out;
	int64_t w;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.now = NOW;
	in.has_channel = 1;
	in.chname = "hook";
	in.concurrency = in.ch_concurrency = 4;
	in.priority = GH_PRIORITY_NORMAL;
	nd_breaker_init(&in.breaker, 1, 1000);
	in.limited = 1;
	assert_int_equal(nd_tbucket_init(&in.bucket, 2, 1000, 2, NOW), GH_OK);

	/* a token taken: the bucket handed back is one lower */
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_GO);
	in.bucket = out.bucket;
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_GO);
	in.bucket = out.bucket;
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_WAIT_RATE);
	assert_int_equal(out.at, NOW + 500);
	/* the input is never changed: the same facts, the same answer */
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_WAIT_RATE);

	/* the probe: handed out once, then the breaker says no */
	in.limited = 0;
	in.breaker.state = GH_BREAKER_OPEN;
	in.breaker.opened_at = NOW - 1000;
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_GO);
	assert_int_equal(out.probe, 1);
	assert_int_equal(out.breaker.state, GH_BREAKER_HALF_OPEN);
	assert_int_equal(out.breaker.probing, 1);
	in.breaker = out.breaker;
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_BREAKER);

	/* a probe given back by the rate limit frees the breaker's slot */
	in.breaker.state = GH_BREAKER_OPEN;
	in.breaker.probing = 0;
	in.limited = 1;
	assert_int_equal(nd_tbucket_init(&in.bucket, 1, 60000, 1, NOW), GH_OK);
	assert_true(nd_tbucket_take(&in.bucket, NOW, &w));
	nd_gate_decide(&in, &out);
	assert_int_equal(out.gate, ND_GATE_RATE);
	assert_int_equal(out.probe, 0);
	assert_int_equal(out.breaker.probing, 0);
}

/* ---- the attempt ---- */

static uint64_t
rng_fixed(void *arg)
{
	return *(const uint64_t *)arg;
}

struct attempt_row {
	const char *name;
	enum nd_outcome outcome;
	int attempts, max_attempts;
	int64_t retry_after;
	enum nd_attempt want;
	int breaker_ok;
};

static const struct attempt_row attempt_rows[] = {
	{"ok", GH_OUTCOME_OK, 1, 5, -1, ND_ATTEMPT_DELIVERED, 1},
	{"ok on the last attempt", GH_OUTCOME_OK, 5, 5, -1,
	 ND_ATTEMPT_DELIVERED, 1},
	{"permanent", GH_OUTCOME_PERMANENT, 1, 5, -1, ND_ATTEMPT_DEAD, 1},
	{"retry", GH_OUTCOME_RETRY, 1, 5, -1, ND_ATTEMPT_RETRY, 0},
	{"retry after", GH_OUTCOME_RETRY, 2, 5, 30000, ND_ATTEMPT_RETRY, 0},
	{"retry, last attempt spent", GH_OUTCOME_RETRY, 5, 5, -1,
	 ND_ATTEMPT_GAVE_UP, 0},
	{"retry, past max", GH_OUTCOME_RETRY, 6, 5, -1, ND_ATTEMPT_GAVE_UP, 0},
};

static void
test_attempt_table(void **state)
{
	struct nd_backoff bo = {1000, 60000, 3600000};
	uint64_t seed = UINT64_MAX / 3;

	(void)state;
	for (size_t i = 0; i < sizeof(attempt_rows) / sizeof(attempt_rows[0]);
	     i++) {
		const struct attempt_row *r = &attempt_rows[i];
		struct nd_attempt_in in = {
			.outcome = r->outcome, .attempts = r->attempts,
			.max_attempts = r->max_attempts, .now = NOW,
			.backoff = &bo, .retry_after_ms = r->retry_after,
			.rng = rng_fixed, .rng_arg = &seed,
		};
		struct nd_attempt_out out;

		nd_attempt_decide(&in, &out);
		if (out.attempt != r->want)
			fail_msg("%s: %d, wanted %d", r->name, out.attempt, r->want);
		if (out.breaker_ok != r->breaker_ok)
			fail_msg("%s: breaker_ok %d", r->name, out.breaker_ok);
		if (out.attempt != ND_ATTEMPT_RETRY) {
			assert_int_equal(out.delay, 0);
			continue;
		}
		/* the channel's backoff, with the same jitter */
		assert_int_equal(out.delay, nd_backoff_delay(&bo, r->attempts,
		                 r->retry_after, rng_fixed, &seed));
		assert_int_equal(out.next_at, NOW + out.delay);
		if (r->retry_after > 0)
			assert_true(out.delay >= r->retry_after);
	}
}

/* ---- the verdict ---- */

#define MAXT 3

struct vt {
	enum nd_vstate st;
	int64_t next;             /* offset from NOW */
	int failed_now, moved;
};

struct verdict_row {
	const char *name;
	size_t nt;
	struct vt t[MAXT];
	int64_t expires;          /* offset from NOW; 0: never */
	int digest;
	int64_t slot;             /* offset from NOW */
	enum nd_verdict want;
	int64_t due;              /* offset from NOW */
	size_t culprit;           /* index, or ND_VERDICT_NONE */
};

#define NONE ND_VERDICT_NONE

static const struct verdict_row verdict_rows[] = {
	{"nobody to notify", 0, {{0}}, 0, 0, 0, ND_V_ACK, 0, NONE},
	{"nobody, leased past expiry", 0, {{0}}, -1, 0, 0, ND_V_EXPIRE, 0,
	 NONE},
	{"nobody, expiry ahead", 0, {{0}}, 1000, 0, 0, ND_V_ACK, 0, NONE},
	{"a digest before its time", 0, {{0}}, 0, 1, 3600000, ND_V_DEFER,
	 3600000, NONE},
	{"a digest at its time", 0, {{0}}, 0, 1, 0, ND_V_ACK, 0, NONE},
	{"all delivered", 2, {{ND_VS_DONE, 0, 0, 1}, {ND_VS_DONE, 0, 0, 1}},
	 0, 0, 0, ND_V_ACK, 0, NONE},
	{"one dead", 2, {{ND_VS_DONE, 0, 0, 1}, {ND_VS_DEAD, 0, 1, 1}}, 0, 0,
	 0, ND_V_DEAD, 0, 1},
	{"dead before expired", 2, {{ND_VS_EXPIRED, 0, 0, 1},
	 {ND_VS_DEAD, 0, 0, 0}}, 0, 0, 0, ND_V_DEAD, 0, 1},
	{"delivered and expired", 2, {{ND_VS_DONE, 0, 0, 0},
	 {ND_VS_EXPIRED, 0, 0, 1}}, 0, 0, 0, ND_V_EXPIRE, 0, NONE},
	{"failed this round", 1, {{ND_VS_LATER, 5000, 1, 1}}, 0, 0, 0,
	 ND_V_RETRY, 5000, 0},
	{"failed, the earliest retry", 2, {{ND_VS_LATER, 5000, 1, 1},
	 {ND_VS_LATER, 2000, 0, 1}}, 0, 0, 0, ND_V_RETRY, 2000, 0},
	{"failed, a dead one is the culprit", 2, {{ND_VS_LATER, 5000, 1, 1},
	 {ND_VS_DEAD, 0, 1, 1}}, 0, 0, 0, ND_V_RETRY, 5000, 1},
	{"the first dead stays the culprit", 3, {{ND_VS_DEAD, 0, 1, 1},
	 {ND_VS_LATER, 5000, 1, 1}, {ND_VS_DEAD, 0, 1, 1}}, 0, 0, 0,
	 ND_V_RETRY, 5000, 0},
	{"deferred", 1, {{ND_VS_LATER, 5000, 0, 1}}, 0, 0, 0, ND_V_DEFER, 5000,
	 NONE},
	{"deferred, not moved", 1, {{ND_VS_LATER, 5000, 0, 0}}, 0, 0, 0,
	 ND_V_DEFER, 5000, NONE},
	{"due again now, not moved: released", 1, {{ND_VS_LATER, -1000, 0, 0}},
	 0, 0, 0, ND_V_RELEASE, -1000, NONE},
	{"never started: released", 2, {{ND_VS_OPEN, 0, 0, 0},
	 {ND_VS_DONE, 0, 0, 0}}, 0, 0, 0, ND_V_RELEASE, 0, NONE},
	{"waiting and moved: deferred", 2, {{ND_VS_OPEN, 0, 0, 0},
	 {ND_VS_DONE, 0, 0, 1}}, 0, 0, 0, ND_V_DEFER, 0, NONE},
	{"due at expiry at the latest", 1, {{ND_VS_LATER, 5000, 0, 1}}, 1000,
	 0, 0, ND_V_DEFER, 1000, NONE},
	{"a retry due at expiry at the latest", 1, {{ND_VS_LATER, 5000, 1, 1}},
	 1000, 0, 0, ND_V_RETRY, 1000, 0},
	{"dead before, something left: deferred", 2, {{ND_VS_DEAD, 0, 0, 0},
	 {ND_VS_LATER, 3000, 0, 1}}, 0, 0, 0, ND_V_DEFER, 3000, 0},
	/* a new or waiting delivery makes the event due now, whatever came
	 * before it in the list */
	{"open after an earlier retry", 2, {{ND_VS_LATER, -5000, 0, 0},
	 {ND_VS_OPEN, 0, 0, 0}}, 0, 0, 0, ND_V_RELEASE, 0, NONE},
};

static void
test_verdict_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verdict_rows) / sizeof(verdict_rows[0]);
	     i++) {
		const struct verdict_row *r = &verdict_rows[i];
		struct nd_verdict_acc acc;
		struct nd_verdict_job job = {
			.expires_at = r->expires ? NOW + r->expires : 0,
			.digest = r->digest,
			.digest_slot = r->digest ? NOW + r->slot : 0,
		};
		struct nd_verdict_out out;

		nd_verdict_start(&acc, NOW);
		for (size_t k = 0; k < r->nt; k++) {
			struct nd_verdict_target t = {
				.st = r->t[k].st, .next_at = NOW + r->t[k].next,
				.failed_now = r->t[k].failed_now,
				.moved = r->t[k].moved,
			};

			nd_verdict_add(&acc, &t);
		}
		nd_verdict_end(&acc, &job, &out);
		if (out.verdict != r->want)
			fail_msg("%s: %s, wanted %s", r->name,
			         nd_verdict_name(out.verdict),
			         nd_verdict_name(r->want));
		if (out.due != NOW + r->due)
			fail_msg("%s: due %+lld, wanted %+lld", r->name,
			         (long long)(out.due - NOW), (long long)r->due);
		if (out.culprit != r->culprit)
			fail_msg("%s: culprit %zu, wanted %zu", r->name, out.culprit,
			         r->culprit);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate_table),
		cmocka_unit_test(test_gate_state),
		cmocka_unit_test(test_attempt_table),
		cmocka_unit_test(test_verdict_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
