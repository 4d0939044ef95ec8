/*
 * optout.c - suppression of bulk recipients and List-Unsubscribe values
 * (see optout.h).
 */
#include <stdio.h>
#include <string.h>

#include "gatehouse/records.h"
#include "gatehouse/token.h"
#include "optout.h"

static gh_err
check_fn(struct gh_txn *txn, void *arg)
{
	struct gm_msg *m = arg;

	for (size_t i = 0; i < m->nrcpt; i++) {
		int s = 0;
		gh_err err;

		m->rcpts[i].suppressed = 0;
		err = gh_suppress_check_txn(txn, m->rcpts[i].addr,
		                            m->bulk.list[0] ? m->bulk.list : NULL,
		                            &s);
		/* An address the list cannot hold cannot be on it. */
		if (err == GH_EINVAL || err == GH_ETOOBIG)
			continue;
		if (err)
			return err;
		m->rcpts[i].suppressed = s;
	}
	return GH_OK;
}

gh_err
gm_optout_check(struct gm_mstore *st, struct gm_msg *m)
{
	return gm_mstore_view(st, check_fn, m);
}

struct listed_arg {
	const char *rcpt;
	int listed;
};

static gh_err
listed_fn(struct gh_txn *txn, void *arg)
{
	struct listed_arg *a = arg;
	gh_err err = gh_suppress_listed_txn(txn, a->rcpt, &a->listed);

	/* An address the list cannot hold cannot be on it. */
	if (err == GH_EINVAL || err == GH_ETOOBIG) {
		a->listed = 0;
		return GH_OK;
	}
	return err;
}

gh_err
gm_optout_listed(struct gm_mstore *st, const char *rcpt, int *listed)
{
	struct listed_arg a = {rcpt, 0};
	gh_err err = gm_mstore_view(st, listed_fn, &a);

	*listed = err ? 0 : a.listed;
	return err;
}

gh_err
gm_unsub_value(const struct gm_mcfg *c, const char *rcpt, const char *list,
               int64_t now_s, char *out, size_t cap)
{
	char norm[GH_ADDR_MAX + 1], tok[GH_TOKEN_LEN_MAX];
	struct gh_token t;
	gh_err err;
	int n;

	err = gh_addr_normalize(rcpt, norm, sizeof(norm));
	if (err)
		return err;
	if (strlen(norm) > GH_TOKEN_FIELD_MAX || strlen(list) >
	    GH_TOKEN_FIELD_MAX)
		return GH_ETOOBIG;
	memset(&t, 0, sizeof(t));
	t.purpose = GH_TOKEN_UNSUBSCRIBE;
	t.expires = now_s + c->unsubscribe_ttl_s;
	t.nfields = 2;
	memcpy(t.field[0], norm, strlen(norm) + 1);
	memcpy(t.field[1], list, strlen(list) + 1);
	err = gh_token_make(&c->token_key, &t, tok, sizeof(tok));
	if (err)
		return err;
	n = snprintf(out, cap, " <%s%st=%s>", c->unsubscribe_url,
	             strchr(c->unsubscribe_url, '?') ? "&" : "?", tok);
	return n < 0 || (size_t)n >= cap ? GH_ETOOBIG : GH_OK;
}
