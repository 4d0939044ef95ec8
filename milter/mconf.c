/*
 * mconf.c - the milter's settings read from gatehouse.conf and checked,
 * everything of gm_mcfg_load() but the virus engine (see mcfg.h): networks,
 * canonicalization, header lists, the signing table with its keys, the
 * token key, limits, the scanner's paths, and the start-up settings
 * (socket, its mode and group, the user).  No libmilter and no libclamav
 * here, so that `gatehouse config check` links this very code and says
 * what the milter would say.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dkim/dkim.h"
#include "mcfg.h"
#include "sockperm.h"

/* Split a list value ("a b, c") into an array of pointers into one block. */
static gh_err
split_list(const char *text, const char ***out, size_t *n)
{
	size_t words = 0, len = strlen(text);
	const char **v;
	char *buf, *p, *save = NULL;

	*out = NULL;
	*n = 0;
	v = malloc((len / 2 + 2) * sizeof(*v) + len + 1);
	if (v == NULL)
		return GH_ENOMEM;
	buf = (char *)(v + len / 2 + 2);
	memcpy(buf, text, len + 1);
	for (p = strtok_r(buf, " \t,", &save); p;
	     p = strtok_r(NULL, " \t,", &save))
		v[words++] = p;
	if (words > GH_DKIM_MAX_NAMES) {
		free(v);
		return GH_ETOOBIG;
	}
	*out = v;
	*n = words;
	return GH_OK;
}

static gm_onerr
onerr(const struct gh_conf *conf, const char *sec, const char *key)
{
	const char *v = gh_conf_str(conf, sec, key);

	if (v && strcmp(v, "accept") == 0)
		return GH_ONERR_ACCEPT;
	if (v && strcmp(v, "reject") == 0)	/* on_scan_limit's schema */
		return GH_ONERR_REJECT;
	return GH_ONERR_TEMPFAIL;
}

static void
load_limits(struct gm_mcfg *c)
{
	const struct gh_conf *k = c->conf;
	struct gm_limits *l = &c->limits;

	l->window_ms = gh_conf_int(k, "ratelimit", "window");
	l->reject = strcmp(gh_conf_str(k, "ratelimit", "action"), "reject") == 0;
	l->user_msgs = gh_conf_int(k, "ratelimit", "user_messages");
	l->user_rcpts = gh_conf_int(k, "ratelimit", "user_recipients");
	l->sender_msgs = gh_conf_int(k, "ratelimit", "sender_messages");
	l->sender_rcpts = gh_conf_int(k, "ratelimit", "sender_recipients");
	l->domain_msgs = gh_conf_int(k, "ratelimit", "domain_messages");
	l->domain_rcpts = gh_conf_int(k, "ratelimit", "domain_recipients");
}

int
gm_mcfg_has_limits(const struct gm_mcfg *c)
{
	const struct gm_limits *l = &c->limits;

	return l->user_msgs || l->user_rcpts || l->sender_msgs ||
	    l->sender_rcpts || l->domain_msgs || l->domain_rcpts;
}

/* The token key bulk mail's List-Unsubscribe links are made with. */
static gh_err
load_token_key(struct gm_mcfg *c, char *detail, size_t detail_len)
{
	/* The mail domain's own key file when there is one: the unsubscribe
	 * key alone, never the master (docs/tokens.md). */
	const char *key = gh_conf_str(c->conf, "tokens", "mail_key_file");
	const char *which = "mail_key_file";
	char d2[512];
	gh_err err;

	if (key == NULL || *key == '\0') {
		key = gh_conf_str(c->conf, "tokens", "key_file");
		which = "key_file";
	}
	err = gh_token_key_load(key, &c->token_key, d2, sizeof(d2));
	if (err == GH_OK &&
	    !gh_token_key_has(&c->token_key, GH_TOKEN_UNSUBSCRIBE)) {
		snprintf(d2, sizeof(d2), "%s has no unsubscribe key "
		         "(gatehouse tokens derive writes it)", key);
		err = GH_EINVAL;
	}
	if (err) {
		snprintf(detail, detail_len, "[milter] unsubscribe_url needs "
		         "the token key ([tokens] %s): %s", which, d2);
		return GH_ECONFIG;
	}
	return GH_OK;
}

gh_err
gm_mcfg_parse(struct gm_mcfg *c, char *detail, size_t detail_len)
{
	const char *v;
	char d2[512];
	gh_err err;

	detail[0] = '\0';
	err = gm_netlist_parse(gh_conf_str(c->conf, "milter", "internal_hosts"),
	                       &c->internal, d2, sizeof(d2));
	if (err) {
		snprintf(detail, detail_len, "[milter] internal_hosts: %s", d2);
		return GH_ECONFIG;
	}
	c->sign_authenticated = gh_conf_bool(c->conf, "milter",
	                                     "sign_authenticated");
	c->mail_log = gh_conf_bool(c->conf, "milter", "mail_log");
	c->on_store_error = onerr(c->conf, "milter", "on_store_error");
	c->on_sign_error = onerr(c->conf, "milter", "on_sign_error");
	c->on_scan_error = onerr(c->conf, "milter", "on_scan_error");
	c->on_scan_limit = onerr(c->conf, "milter", "on_scan_limit");

	err = gm_canon_parse(gh_conf_str(c->conf, "dkim", "canonicalization"),
	                     &c->hdr_canon, &c->body_canon);
	if (err) {
		snprintf(detail, detail_len, "[dkim] canonicalization: bad value");
		return GH_ECONFIG;
	}
	if ((v = gh_conf_str(c->conf, "dkim", "headers")) != NULL &&
	    split_list(v, &c->headers, &c->nheaders) != GH_OK) {
		snprintf(detail, detail_len, "[dkim] headers: more than %d names",
		         GH_DKIM_MAX_NAMES);
		return GH_ECONFIG;
	}
	if ((v = gh_conf_str(c->conf, "dkim", "oversign")) != NULL &&
	    split_list(v, &c->oversign, &c->noversign) != GH_OK) {
		snprintf(detail, detail_len, "[dkim] oversign: more than %d names",
		         GH_DKIM_MAX_NAMES);
		return GH_ECONFIG;
	}
	for (size_t i = 0; i < c->nheaders + c->noversign; i++) {
		const char *name = i < c->nheaders ? c->headers[i] :
		    c->oversign[i - c->nheaders];

		if (!gm_dkim_field_name_ok(name)) {
			snprintf(detail, detail_len, "[dkim] '%s' is not a "
			         "header field name", name);
			return GH_ECONFIG;
		}
	}
	c->expire_s = gh_conf_int(c->conf, "dkim", "expire") / 1000;
	c->subdomains = gh_conf_bool(c->conf, "dkim", "subdomains");
	err = gm_signtable_load(c->conf, &c->keys, detail, detail_len);
	if (err)
		return err;

	c->bulk_header = gh_conf_str(c->conf, "milter", "bulk_header");
	c->transactional_header = gh_conf_str(c->conf, "milter",
	                                      "transactional_header");
	c->unsubscribe_url = gh_conf_str(c->conf, "milter", "unsubscribe_url");
	if (c->unsubscribe_url && !*c->unsubscribe_url)
		c->unsubscribe_url = NULL;
	c->unsubscribe_ttl_s = gh_conf_int(c->conf, "tokens",
	                                   "unsubscribe_ttl") / 1000;
	if (c->unsubscribe_url &&
	    (err = load_token_key(c, detail, detail_len)) != GH_OK)
		return err;
	load_limits(c);

	c->scan_max_size = gh_conf_int(c->conf, "milter", "scan_max_size");
	c->scan_text = gh_conf_bool(c->conf, "milter", "scan_text");
	c->spool_dir = gh_conf_str(c->conf, "milter", "spool_dir");
	c->scan_cache = gh_conf_bool(c->conf, "milter", "scan_cache");
	if (gh_conf_bool(c->conf, "milter", "scan") &&
	    !gh_conf_str(c->conf, "milter", "clamd_socket")) {
		/* The engine itself is loaded by gm_mcfg_load (scan.c); the
		 * directory it loads from must be there first. */
		const char *db = gh_conf_str(c->conf, "milter", "clamav_db");
		struct stat st;

		errno = 0;
		if (stat(db, &st) != 0 || !S_ISDIR(st.st_mode)) {
			snprintf(detail, detail_len, "[milter] clamav_db %s: %s",
			         db, errno ? strerror(errno) : "not a directory");
			return errno == EACCES ? GH_EACCES : GH_ECONFIG;
		}
	}
	return GH_OK;
}

void
gm_mcfg_clear(struct gm_mcfg *c)
{
	gm_signtable_free(c->keys);
	c->keys = NULL;
	gm_netlist_free(&c->internal);
	free(c->headers);
	c->headers = NULL;
	c->nheaders = 0;
	free(c->oversign);
	c->oversign = NULL;
	c->noversign = 0;
	OPENSSL_cleanse(&c->token_key, sizeof(c->token_key));
}

static int
parse_mode(const char *s, mode_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (*s == '\0' || *end != '\0' || errno || v < 0 || v > 0777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

int
gm_mboot_parse(const struct gh_conf *boot, int need_user, struct gm_mboot *b,
               char *why, size_t wlen)
{
	const char *sock = gh_conf_str(boot, "milter", "socket");
	const char *user = gh_conf_str(boot, "milter", "user");

	memset(b, 0, sizeof(*b));
	b->sock = sock;
	b->sock_gid = (gid_t)-1;
	if (parse_mode(gh_conf_str(boot, "milter", "socket_mode"), &b->mode)) {
		snprintf(why, wlen, "[milter] socket_mode: not an octal mode");
		return -1;
	}
	/* libmilter takes a bare path for a unix socket too */
	b->local_socket = strncmp(sock, "unix:", 5) == 0 ||
	    strncmp(sock, "local:", 6) == 0 || sock[0] == '/';
	b->sock_path = !b->local_socket ? NULL :
	    sock[0] == '/' ? sock : strchr(sock, ':') + 1;
	if (b->local_socket &&
	    (gm_msock_check_mode(b->mode, why, wlen) != 0 ||
	     gm_msock_group(gh_conf_str(boot, "milter", "socket_group"),
	                    &b->sock_gid, why, wlen) != 0))
		return -1;
	b->uid = (uid_t)-1;
	b->gid = (gid_t)-1;
	if (user != NULL && *user != '\0' && strcmp(user, "root") != 0) {
		struct passwd *pw = getpwnam(user);

		if (pw == NULL && !need_user)
			return 0;   /* not root: no user to become */
		if (pw == NULL) {
			snprintf(why, wlen, "[milter] user: no user '%s'", user);
			return -1;
		}
		b->user = user;
		b->uid = pw->pw_uid;
		b->gid = pw->pw_gid;
	}
	return 0;
}
