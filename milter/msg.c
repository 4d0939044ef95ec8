/*
 * msg.c - per-message state: recipients, the header values the log and
 * the policy need (see msg.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/hdrlist.h"
#include "msg.h"

const char *
gm_action_name(gm_action a)
{
	switch (a) {
	case GH_ACT_ACCEPT:
		return "accepted";
	case GH_ACT_REJECT:
		return "rejected";
	case GH_ACT_TEMPFAIL:
		return "tempfailed";
	case GH_ACT_DISCARD:
		return "discarded";
	default:
		return "aborted";
	}
}

struct gm_msg *
gm_msg_new(int64_t now)
{
	struct gm_msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->started_at = now;
	m->spool.fd = -1;
	gm_bulk_init(&m->bulk);
	return m;
}

void
gm_msg_free(struct gm_msg *m)
{
	if (m == NULL)
		return;
	gm_dkim_msg_free(m->dkim);
	if (m->spooling)
		gm_spool_close(&m->spool);
	free(m->rcpts);
	free(m);
}

int
gm_msg_rcpts_full(const struct gm_msg *m)
{
	return m->rcpt_total >= GH_MSG_MAX_RCPTS;
}

gh_err
gm_msg_add_rcpt(struct gm_msg *m, const char *arg, int listed)
{
	if (gm_msg_rcpts_full(m)) {
		if (!listed) {
			m->rcpt_total++;	/* can never be suppressed */
			return GH_OK;
		}
		if (m->nrcpt == GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED) {
			m->rcpt_refused++;
			return GH_ETOOBIG;
		}
	}
	if (m->nrcpt == m->rcap) {
		size_t ncap = m->rcap ? m->rcap * 2 : 4;
		struct gm_rcpt *nv;

		if (ncap > GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED)
			ncap = GH_MSG_MAX_RCPTS + GH_MSG_MAX_LISTED;
		nv = realloc(m->rcpts, ncap * sizeof(*nv));
		if (nv == NULL)
			return GH_ENOMEM;
		m->rcpts = nv;
		m->rcap = ncap;
	}
	gm_envelope_addr(arg, m->rcpts[m->nrcpt].addr,
	                 sizeof(m->rcpts[m->nrcpt].addr));
	m->rcpts[m->nrcpt].suppressed = 0;
	m->nrcpt++;
	m->rcpt_total++;
	return GH_OK;
}

static int
is(const char *name, const char *want)
{
	return gm_hdr_name_eq(name, strlen(name), want, strlen(want));
}

void
gm_msg_header(const struct gm_mcfg *c, struct gm_msg *m, const char *name,
              const char *value)
{
	/* name + ':' + value + CRLF, as on the wire */
	m->size += strlen(name) + strlen(value) + 3;
	m->nhdr++;
	if (is(name, "From")) {
		if (m->nfrom++ == 0) {
			gm_log_value(value, m->from, sizeof(m->from));
			if (gm_from_address(value, m->from_addr,
			                    sizeof(m->from_addr)) != GH_OK)
				m->from_addr[0] = '\0';
		}
	} else if (is(name, "Subject")) {
		if (!m->subject[0])
			gm_log_value(value, m->subject, sizeof(m->subject));
	} else if (is(name, "Content-Type")) {
		char t[sizeof(m->ctype)];
		const char *v = value;
		size_t o = 0;

		while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			v++;
		while (*v && *v != ';' && *v != ' ' && *v != '\t' &&
		       *v != '\r' && *v != '\n' && o + 1 < sizeof(t))
			t[o++] = (char)tolower((unsigned char)*v++);
		t[o] = '\0';
		if (!m->ctype[0])
			memcpy(m->ctype, t, sizeof(t));
		/* every one counts: a reader, or libclamav, may take a later
		 * "multipart/mixed" over a first "text/plain" */
		if (strcmp(t, "text/plain") != 0)
			m->not_plain = 1;
	} else if (is(name, "Message-ID")) {
		if (!m->message_id[0])
			gm_log_value(value, m->message_id,
			             sizeof(m->message_id));
	}
	gm_bulk_header(c, &m->bulk, name, value);
}

/* What the start of a line says: 1 a uuencode "begin" line ("begin ",
 * three or four octal digits, a space), 0 not yet known, -1 not one. */
static int
uu_begin(const char *l, size_t n)
{
	static const char b[] = "begin ";
	size_t i, digits = 0;

	for (i = 0; i < n && i < sizeof(b) - 1; i++)
		if (tolower((unsigned char)l[i]) != b[i])
			return -1;
	if (n < sizeof(b) - 1)
		return 0;
	for (i = sizeof(b) - 1; i < n; i++) {
		if (l[i] >= '0' && l[i] <= '7' && digits < 4)
			digits++;
		else if (l[i] == ' ' && digits >= 3)
			return 1;
		else
			return -1;
	}
	return 0;
}

void
gm_msg_body_text(struct gm_msg *m, const unsigned char *chunk, size_t len)
{
	for (size_t i = 0; i < len && !m->uuencoded; i++) {
		int r;

		if (chunk[i] == '\n') {
			m->uu_len = 0;
			m->uu_skip = 0;
			continue;
		}
		if (m->uu_skip)
			continue;
		if (m->uu_len >= sizeof(m->uu_line)) {
			m->uu_skip = 1;
			continue;
		}
		m->uu_line[m->uu_len++] = (char)chunk[i];
		r = uu_begin(m->uu_line, m->uu_len);
		if (r > 0)
			m->uuencoded = 1;
		else if (r < 0)
			m->uu_skip = 1;
	}
}

int
gm_msg_plain_text(const struct gm_msg *m)
{
	return !m->not_plain && !m->uuencoded;
}

size_t
gm_msg_remaining(const struct gm_msg *m)
{
	size_t n = m->rcpt_total - m->nrcpt;	/* unkept ones remain */

	for (size_t i = 0; i < m->nrcpt; i++)
		if (!m->rcpts[i].suppressed)
			n++;
	return n;
}
