/*
 * login.c - copy and clean what PAM tells us about a login.
 *
 * User names, tty names and host names reach us from the network (sshd
 * passes the name a client typed, valid account or not), so they are
 * treated as hostile bytes: bounded, made valid UTF-8 for the JSON event,
 * stripped of control characters that could forge log or mail lines.
 */
#include <string.h>
#include <unistd.h>

#include "login.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;       /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;       /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

void
gh_pam_text(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t j = 0;

	if (outlen == 0)
		return;
	if (s != NULL) {
		while (*p) {
			size_t n = utf8_len(p);

			/* The checks above stop at the NUL, so n never
			 * reads past the end. */
			if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
				if (j + 1 >= outlen)
					break;
				out[j++] = '?';
				p++;
				continue;
			}
			if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
				/* C1 control characters */
				if (j + 1 >= outlen)
					break;
				out[j++] = '?';
				p += 2;
				continue;
			}
			if (j + n >= outlen)
				break;
			memcpy(out + j, p, n);
			j += n;
			p += n;
		}
	}
	out[j] = '\0';
}

void
gh_pam_login_fill(struct gh_pam_login *l, const char *user, const char *ruser,
                  const char *tty, const char *service, const char *rhost,
                  int v4_prefix, int v6_prefix, int64_t now)
{
	memset(l, 0, sizeof(*l));
	gh_pam_text(user, l->user, sizeof(l->user));
	gh_pam_text(ruser, l->ruser, sizeof(l->ruser));
	gh_pam_text(tty, l->tty, sizeof(l->tty));
	gh_pam_text(service, l->service, sizeof(l->service));
	gh_pam_text(rhost, l->rhost, sizeof(l->rhost));
	l->origin = gh_pam_addr_canon(rhost, l->addr, sizeof(l->addr));
	if (l->origin != GH_PAM_ORIGIN_LOCAL)
		gh_pam_netkey(rhost, v4_prefix, v6_prefix, l->net,
		              sizeof(l->net));
	if (gethostname(l->host, sizeof(l->host) - 1) != 0 || !l->host[0])
		memcpy(l->host, "localhost", sizeof("localhost"));
	l->host[sizeof(l->host) - 1] = '\0';
	l->now = now;
}
