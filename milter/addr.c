/*
 * addr.c - From-field mailbox, domains, envelope addresses and loggable
 * header values (see addr.h).
 */
#include <ctype.h>
#include <string.h>

#include "gatehouse/text.h"
#include "addr.h"

/*
 * Copy value into out with comments removed and quoted strings kept,
 * stopping at the first ',' outside quotes (the end of the first mailbox)
 * and noting where the first '<' ... '>' outside quotes and comments is.
 */
struct scan {
	size_t lt, gt;		/* offsets in out; lt == gt == 0: none */
	int group;		/* a ':' outside quotes: group syntax */
};

static gh_err
strip(const char *v, char *out, size_t cap, struct scan *sc)
{
	size_t o = 0;
	int depth = 0, quoted = 0;

	memset(sc, 0, sizeof(*sc));
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (quoted) {
			if (c == '\\' && v[1]) {
				if (o + 2 >= cap)
					return GH_ETOOBIG;
				out[o++] = *v++;
				out[o++] = *v;
				continue;
			}
			if (c == '"')
				quoted = 0;
		} else if (depth > 0) {
			if (c == '\\' && v[1])
				v++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		} else if (c == '(') {
			depth = 1;
			continue;
		} else if (c == '"') {
			quoted = 1;
		} else if (c == ',') {
			break;
		} else if (c == ':' && sc->lt == 0) {
			sc->group = 1;
		} else if (c == '<' && sc->lt == 0) {
			sc->lt = o + 1;
		} else if (c == '>' && sc->lt != 0 && sc->gt == 0) {
			sc->gt = o;
		}
		if (o + 1 >= cap)
			return GH_ETOOBIG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return GH_OK;
}

static int
valid_mailbox(const char *a)
{
	const char *at = strrchr(a, '@');

	if (at == NULL || at == a || at[1] == '\0')
		return 0;
	for (; *a; a++)
		if ((unsigned char)*a <= ' ' || *a == '<' || *a == '>')
			return 0;
	return 1;
}

gh_err
gm_from_address(const char *value, char *out, size_t cap)
{
	char buf[2048];
	struct scan sc;
	const char *s;
	size_t n;
	gh_err err;

	if (value == NULL || cap == 0)
		return GH_EINVAL;
	err = strip(value, buf, sizeof(buf), &sc);
	if (err)
		return err == GH_ETOOBIG ? GH_EINVAL : err;
	if (sc.lt != 0) {
		if (sc.gt < sc.lt)
			return GH_EINVAL;
		s = buf + sc.lt;
		n = sc.gt - sc.lt;
	} else {
		if (sc.group)
			return GH_EINVAL;
		s = buf;
		n = strlen(buf);
	}
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	/* A source route "<@relay:joe@x>" keeps only the mailbox. */
	if (n > 0 && *s == '@') {
		const char *colon = memchr(s, ':', n);

		if (colon == NULL)
			return GH_EINVAL;
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	if (n == 0)
		return GH_EINVAL;
	if (n >= cap)
		return GH_ETOOBIG;
	memcpy(out, s, n);
	out[n] = '\0';
	return valid_mailbox(out) ? GH_OK : GH_EINVAL;
}

const char *
gm_addr_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at && at[1] ? at + 1 : NULL;
}

gh_err
gm_domain_lower(const char *domain, char *out, size_t cap)
{
	size_t n = domain ? strlen(domain) : 0;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0)
		return GH_EINVAL;
	if (n >= cap)
		return GH_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return GH_EINVAL;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return GH_OK;
}

/*
 * The escape of n bytes at s into out: gh_text_escape, reading no more than
 * cap + GH_TEXT_ESC_GROWTH bytes (a header value can be long; every byte
 * read past cap is cut anyway, and those few more make the escape see a
 * character cut by that bound whole, so the cut lands between characters
 * and is marked).
 */
static void
escape_bounded(const char *s, size_t n, char *out, size_t cap, unsigned flags)
{
	if (n > cap + GH_TEXT_ESC_GROWTH)
		n = cap + GH_TEXT_ESC_GROWTH;
	gh_text_escape(s, n, out, cap, flags, NULL);
}

void
gm_envelope_addr(const char *arg, char *out, size_t cap)
{
	size_t n;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (arg == NULL)
		return;
	while (*arg == ' ')
		arg++;
	if (*arg == '<')
		arg++;
	n = strcspn(arg, ">");
	/* ESMTP parameters may follow the address in the same string */
	if (arg[n] != '>')
		n = strcspn(arg, " ");
	/* an address is an identity: a '\' of a quoted local part stays one */
	escape_bounded(arg, n, out, cap, GH_TEXT_IDENT);
}

void
gm_log_value(const char *value, char *out, size_t cap)
{
	char tmp[GH_LOG_VALUE_MAX + GH_TEXT_ESC_GROWTH];
	size_t o = 0;
	int space = 0;

	if (cap == 0)
		return;
	if (cap > GH_LOG_VALUE_MAX)
		cap = GH_LOG_VALUE_MAX;
	/* whitespace folded first, into tmp: out may be value itself */
	for (const unsigned char *p = (const unsigned char *)(value ? value : "");
	     *p && o < sizeof(tmp); p++) {
		unsigned char c = *p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (space) {
			tmp[o++] = ' ';
			space = 0;
			if (o == sizeof(tmp))
				break;
		}
		tmp[o++] = (char)c;
	}
	escape_bounded(tmp, o, out, cap, 0);
}
