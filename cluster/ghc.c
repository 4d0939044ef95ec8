/*
 * ghc.c - libghcluster (ghc.h): the connection to the NATS JetStream
 * cluster, its credentials, and the stream and buckets every part relies
 * on.
 *
 * The secret files are read here, not by the NATS client: the client would
 * open a path (following links, whatever its mode), while every file a
 * Gatehouse process reads for a secret is opened O_NOFOLLOW and checked on
 * the descriptor (docs/security.md, rule 1).  The JWT and seed are then
 * handed to the client through its callbacks, and the seed signs the
 * server's nonce with nats_Sign.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gatehouse/conf.h"
#include "gatehouse/file.h"
#include "ghc.h"

#define GHC_SERVERS_MAX 16
#define GHC_RECONNECT_WAIT_MS 1000
#define GHC_ERRORS 8              /* distinct server errors kept */

struct ghc {
	struct ghc_opts o;
	enum gh_domain dom;
	natsOptions *nopts;
	natsConnection *nc;
	jsCtx *js;
	/* the secret, kept for the client's callbacks (each reconnect signs
	 * a new nonce); wiped at close */
	char jwt[GHC_SECRET_MAX];
	char seed[128];
	/* what the server last said went wrong (a permissions violation, a
	 * refused login), from the client's callbacks, the latest first and
	 * each text once: the parts sharing the connection each find their
	 * own (ghc_error_about) however often another's recurs; under mu */
	pthread_mutex_t mu;
	char errs[GHC_ERRORS][512];
	/* the client's last callback for this connection has run: only
	 * then may c be freed (they get c as their closure) */
	pthread_cond_t cv;
	int closed;
};

/* ---- small pieces ---- */

int
ghc_enabled(const struct gh_conf *conf)
{
	const char *s = gh_conf_str(conf, "nats", "servers");

	if (s == NULL)
		return 0;
	for (; *s; s++)
		if (!isspace((unsigned char)*s) && *s != ',')
			return 1;
	return 0;
}

int
ghc_token_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '-')
			return 0;
	return n > 0 && n <= GHC_TOKEN_MAX;
}

static void
say(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

gh_err
ghc_opts_load(const struct gh_conf *conf, struct ghc_opts *o, char *errbuf,
              size_t errlen)
{
	const char *host = gh_conf_str(conf, "nats", "host");
	const char *prefix = gh_conf_str(conf, "nats", "subject_prefix");
	const char *stream = gh_conf_str(conf, "nats", "stream");
	char hn[256];

	memset(o, 0, sizeof(*o));
	if (host == NULL || host[0] == '\0') {
		/* the short name: "mx1.example.org" has dots, which a subject
		 * token cannot */
		if (gethostname(hn, sizeof(hn) - 1) != 0)
			hn[0] = '\0';
		hn[sizeof(hn) - 1] = '\0';
		hn[strcspn(hn, ".")] = '\0';
		host = hn;
		if (!ghc_token_ok(host)) {
			say(errbuf, errlen, "[nats] host is not set and the "
			    "hostname \"%.64s\" is not usable as one (letters, "
			    "digits, _ and - only, at most %d); set it",
			    host, GHC_TOKEN_MAX);
			return GH_ECONFIG;
		}
	}
	if (!ghc_token_ok(host)) {
		say(errbuf, errlen, "[nats] host \"%.64s\": letters, digits, _ "
		    "and - only, at most %d (it is a subject token)", host,
		    GHC_TOKEN_MAX);
		return GH_ECONFIG;
	}
	if (!ghc_token_ok(prefix)) {
		say(errbuf, errlen, "[nats] subject_prefix \"%.64s\": letters, "
		    "digits, _ and - only, at most %d", prefix ? prefix : "",
		    GHC_TOKEN_MAX);
		return GH_ECONFIG;
	}
	/* the dead-letter stream adds "_DEAD" */
	if (!ghc_token_ok(stream) || strlen(stream) + 5 > GHC_TOKEN_MAX) {
		say(errbuf, errlen, "[nats] stream \"%.64s\": letters, digits, "
		    "_ and - only, at most %d", stream ? stream : "",
		    GHC_TOKEN_MAX - 5);
		return GH_ECONFIG;
	}
	/* each checked above: at most GHC_TOKEN_MAX (63) */
	snprintf(o->host, sizeof(o->host), "%.63s", host);
	snprintf(o->prefix, sizeof(o->prefix), "%.63s", prefix);
	snprintf(o->stream, sizeof(o->stream), "%.63s", stream);
	o->replicas = (int)gh_conf_int(conf, "nats", "replicas");
	o->ack_wait_ms = gh_conf_int(conf, "nats", "ack_wait");
	o->max_deliver = (int)gh_conf_int(conf, "nats", "max_deliver");
	o->connect_timeout_ms = gh_conf_int(conf, "nats", "connect_timeout");
	o->stream_max_bytes = gh_conf_int(conf, "nats", "stream_max_bytes");
	return GH_OK;
}

gh_err
ghc_expand(const char *path, enum gh_domain dom, char *out, size_t cap)
{
	const char *name = gh_domain_name(dom);
	size_t n = 0;

	for (const char *p = path; *p; p++) {
		const char *add = p;
		size_t len = 1;

		if (*p == '%') {
			if (p[1] == 'd') {
				add = name;
				len = strlen(name);
			} else if (p[1] != '%') {
				return GH_EINVAL;
			}
			p++;
		}
		if (n + len >= cap)
			return GH_ETOOBIG;
		memcpy(out + n, add, len);
		n += len;
	}
	if (cap == 0)
		return GH_ETOOBIG;
	out[n] = '\0';
	return GH_OK;
}

gh_err
ghc_read_secret(const char *path, char *buf, size_t cap, char *errbuf,
                size_t errlen)
{
	if (cap > GHC_SECRET_MAX + 1)
		cap = GHC_SECRET_MAX + 1;
	return gh_file_read_into(path, GH_FILE_SECRET, buf, cap, NULL, errbuf,
	                         errlen);
}

/* ---- NKeys: base32 (RFC 4648, no padding) with a CRC-16 (XMODEM) ---- */

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint16_t
crc16(const unsigned char *p, size_t n)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) :
			                       (uint16_t)(crc << 1);
	}
	return crc;
}

static size_t
b32_decode(const char *s, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *s; s++) {
		const char *q = strchr(b32, *s);

		if (q == NULL || *s == '\0')
			return 0;
		acc = (acc << 5) | (uint32_t)(q - b32);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return 0;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static void
b32_encode(const unsigned char *p, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

#define NK_SEED_BYTE (18 << 3)     /* 'S' */
#define NK_USER_BYTE (20 << 3)     /* 'U' */

gh_err
ghc_nkey_public(const char *seed, char *pub, size_t cap)
{
	unsigned char raw[64], pk[35];
	size_t n = strlen(seed) == 58 ? b32_decode(seed, raw, sizeof(raw)) : 0;
	size_t pl = 32;
	EVP_PKEY *k = NULL;
	gh_err err = GH_EINVAL;

	if (n != 36 || cap < 57)
		goto cleanup;
	if ((raw[0] & 0xf8) != NK_SEED_BYTE ||
	    (((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3)) != NK_USER_BYTE ||
	    crc16(raw, 34) != (uint16_t)(raw[34] | raw[35] << 8))
		goto cleanup;
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 2, 32);
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, pk + 1, &pl) != 1 ||
	    pl != 32)
		goto cleanup;
	pk[0] = NK_USER_BYTE;
	{
		uint16_t c = crc16(pk, 33);

		pk[33] = (unsigned char)(c & 0xff);
		pk[34] = (unsigned char)(c >> 8);
	}
	b32_encode(pk, 35, pub);
	err = GH_OK;
cleanup:
	EVP_PKEY_free(k);
	OPENSSL_cleanse(raw, sizeof(raw));
	return err;
}

gh_err
ghc_nkey_seed(const unsigned char raw[32], char *seed, size_t cap)
{
	unsigned char b[36];
	uint16_t c;

	if (cap < 59)
		return GH_EINVAL;
	/* 'S' in the top 5 bits of the first byte, the key type 'U' in the
	 * next 5, straddling the second */
	b[0] = (unsigned char)(NK_SEED_BYTE | (NK_USER_BYTE >> 5));
	b[1] = (unsigned char)((NK_USER_BYTE & 31) << 3);
	memcpy(b + 2, raw, 32);
	c = crc16(b, 34);
	b[34] = (unsigned char)(c & 0xff);
	b[35] = (unsigned char)(c >> 8);
	b32_encode(b, sizeof(b), seed);
	OPENSSL_cleanse(b, sizeof(b));
	return GH_OK;
}

gh_err
ghc_nkey_make(char *seed, size_t scap, char *pub, size_t pcap)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	unsigned char raw[32];
	size_t rl = sizeof(raw);
	gh_err err = GH_EIO;

	if (scap < 59 || pcap < 57)
		return GH_EINVAL;
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &k) != 1 ||
	    EVP_PKEY_get_raw_private_key(k, raw, &rl) != 1 || rl != 32)
		goto cleanup;
	if (ghc_nkey_seed(raw, seed, scap) != GH_OK)
		goto cleanup;
	/* the public key through the same path a reader of the seed takes,
	 * so what is printed is what the servers will be shown */
	if (ghc_nkey_public(seed, pub, pcap) != GH_OK) {
		OPENSSL_cleanse(seed, scap);
		goto cleanup;
	}
	err = GH_OK;
cleanup:
	OPENSSL_cleanse(raw, sizeof(raw));
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	return err;
}

/* The line after the one holding both words (a .creds file's armour). */
static int
creds_block(const char *text, const char *w1, const char *w2, char *out,
            size_t cap)
{
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (memmem(p, len, w1, strlen(w1)) &&
		    memmem(p, len, w2, strlen(w2)) && eol != NULL) {
			const char *v = eol + 1;

			while (*v == '\n' || *v == '\r' || *v == ' ')
				v++;
			len = strcspn(v, "\r\n");
			if (len == 0 || len >= cap || v[0] == '-')
				return -1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

/* ---- the client's callbacks ---- */

/* Keep what the connection says went wrong, for ghc_last_error: the
 * server's -ERR lines ("Permissions Violation for Publish to ...",
 * "Authorization Violation") arrive asynchronously, not as the answer to
 * the call that caused them.  Called in the client's threads. */
static void
remember(struct ghc *c, natsConnection *nc, natsStatus st)
{
	const char *txt = NULL;
	char e[sizeof(c->errs[0])];
	int i;

	(void)natsConnection_GetLastError(nc, &txt);
	snprintf(e, sizeof(e), "%s%s%s", natsStatus_GetText(st),
	         txt && *txt ? ": " : "", txt ? txt : "");
	pthread_mutex_lock(&c->mu);
	/* to the front: the one already kept, or else the oldest, makes
	 * room */
	for (i = 0; i < GHC_ERRORS - 1 && strcmp(c->errs[i], e) != 0; i++)
		;
	memmove(c->errs[1], c->errs[0], (size_t)i * sizeof(c->errs[0]));
	memcpy(c->errs[0], e, sizeof(e));
	pthread_mutex_unlock(&c->mu);
}

static void
err_cb(natsConnection *nc, natsSubscription *sub, natsStatus st,
       void *closure)
{
	(void)sub;
	remember(closure, nc, st);
}

static void
closed_cb(natsConnection *nc, void *closure)
{
	struct ghc *c = closure;

	(void)nc;
	pthread_mutex_lock(&c->mu);
	c->closed = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
connected_cb(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;   /* ghc_connected() asks the connection itself */
}

void
ghc_last_error(struct ghc *c, char *buf, size_t cap)
{
	ghc_error_about(c, NULL, buf, cap);
}

void
ghc_error_about(struct ghc *c, const char *about, char *buf, size_t cap)
{
	int i = 0;

	if (cap == 0)
		return;
	pthread_mutex_lock(&c->mu);
	if (about != NULL)
		for (; i < GHC_ERRORS && c->errs[i][0] &&
		       strstr(c->errs[i], about) == NULL; i++)
			;
	if (i == GHC_ERRORS || c->errs[i][0] == '\0')
		i = 0;
	snprintf(buf, cap, "%s", c->errs[i]);
	pthread_mutex_unlock(&c->mu);
}

static natsStatus
jwt_cb(char **jwt, char **custom, void *closure)
{
	struct ghc *c = closure;

	(void)custom;
	*jwt = strdup(c->jwt);
	return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus
sig_cb(char **custom, unsigned char **sig, int *siglen, const char *nonce,
       void *closure)
{
	struct ghc *c = closure;

	(void)custom;
	return nats_Sign(c->seed, nonce, sig, siglen);
}

gh_err
ghc_status(natsStatus s, jsErrCode jerr, const char *what, char *errbuf,
           size_t errlen)
{
	const char *last = nats_GetLastError(NULL);

	if (s == NATS_OK)
		return GH_OK;
	if (jerr)
		say(errbuf, errlen, "%s%s%s (JetStream error %d)%s%s",
		    what ? what : "", what ? ": " : "", natsStatus_GetText(s),
		    (int)jerr, last && *last ? ": " : "", last ? last : "");
	else
		say(errbuf, errlen, "%s%s%s%s%s", what ? what : "",
		    what ? ": " : "", natsStatus_GetText(s),
		    last && *last ? ": " : "", last ? last : "");
	switch (s) {
	case NATS_NO_MEMORY:
		return GH_ENOMEM;
	case NATS_NOT_FOUND:
		return GH_ENOTFOUND;
	case NATS_NOT_PERMITTED:
	case NATS_CONNECTION_AUTH_FAILED:
		return GH_EACCES;
	case NATS_INVALID_ARG:
		return GH_EINVAL;
	default:
		return GH_EIO;
	}
}

/* ---- the connection ---- */

static gh_err
set_secret(struct ghc *c, const struct gh_conf *conf, char *errbuf,
           size_t errlen)
{
	const char *creds = gh_conf_str(conf, "nats", "credentials");
	const char *nkey = gh_conf_str(conf, "nats", "nkey_seed");
	char path[4096], pub[64];
	char *text = NULL;
	gh_err err = GH_OK;
	natsStatus s;

	if (creds && *creds && nkey && *nkey) {
		say(errbuf, errlen, "[nats] credentials and nkey_seed are both "
		    "set; choose one");
		return GH_ECONFIG;
	}
	if (!(creds && *creds) && !(nkey && *nkey))
		return GH_OK;   /* a server without authentication */
	if (ghc_expand(creds && *creds ? creds : nkey, c->dom, path,
	               sizeof(path)) != GH_OK) {
		say(errbuf, errlen, "[nats] %s: a %% other than %%d or %%%%, or "
		    "too long", creds && *creds ? "credentials" : "nkey_seed");
		return GH_ECONFIG;
	}
	text = malloc(GHC_SECRET_MAX + 1);
	if (text == NULL)
		return GH_ENOMEM;
	err = ghc_read_secret(path, text, GHC_SECRET_MAX + 1, errbuf, errlen);
	if (err)
		goto cleanup;
	if (creds && *creds) {
		if (creds_block(text, "BEGIN", "JWT", c->jwt,
		                sizeof(c->jwt)) != 0 ||
		    creds_block(text, "BEGIN", "SEED", c->seed,
		                sizeof(c->seed)) != 0) {
			say(errbuf, errlen, "%s: not a NATS .creds file (a user "
			    "JWT and an NKey seed)", path);
			err = GH_EINVAL;
			goto cleanup;
		}
		s = natsOptions_SetUserCredentialsCallbacks(c->nopts, jwt_cb, c,
		                                            sig_cb, c);
	} else {
		size_t len = strcspn(text + strspn(text, " \t\r\n"),
		                     " \t\r\n");
		const char *v = text + strspn(text, " \t\r\n");

		if (len == 0 || len >= sizeof(c->seed)) {
			say(errbuf, errlen, "%s: no NKey seed in it", path);
			err = GH_EINVAL;
			goto cleanup;
		}
		memcpy(c->seed, v, len);
		c->seed[len] = '\0';
		if (ghc_nkey_public(c->seed, pub, sizeof(pub)) != GH_OK) {
			say(errbuf, errlen, "%s: not a user NKey seed (SU..., 58 "
			    "characters)", path);
			err = GH_EINVAL;
			goto cleanup;
		}
		s = natsOptions_SetNKey(c->nopts, pub, sig_cb, c);
	}
	if (s != NATS_OK)
		err = ghc_status(s, 0, "[nats] credentials", errbuf, errlen);
cleanup:
	OPENSSL_cleanse(text, GHC_SECRET_MAX + 1);
	free(text);
	return err;
}

/* [nats] servers split into urls (pointing into list); *tls set if one
 * is tls://. */
static gh_err
parse_servers(const struct gh_conf *conf, char *list, size_t lcap,
              const char **urls, int *n, int *tls, char *errbuf,
              size_t errlen)
{
	char *save = NULL;

	*n = 0;
	snprintf(list, lcap, "%s", gh_conf_str(conf, "nats", "servers"));
	for (char *t = strtok_r(list, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (*n == GHC_SERVERS_MAX) {
			say(errbuf, errlen, "[nats] servers: more than %d",
			    GHC_SERVERS_MAX);
			return GH_ECONFIG;
		}
		if (strncmp(t, "nats://", 7) != 0 &&
		    strncmp(t, "tls://", 6) != 0) {
			say(errbuf, errlen, "[nats] servers: \"%.100s\" is not a "
			    "nats:// or tls:// URL", t);
			return GH_ECONFIG;
		}
		if (t[0] == 't')
			*tls = 1;
		urls[(*n)++] = t;
	}
	if (*n == 0) {
		say(errbuf, errlen, "[nats] servers is empty");
		return GH_ECONFIG;
	}
	return GH_OK;
}

static gh_err
set_servers(struct ghc *c, const struct gh_conf *conf, int *tls,
            char *errbuf, size_t errlen)
{
	char list[4096];
	const char *urls[GHC_SERVERS_MAX];
	int n = 0;
	gh_err err = parse_servers(conf, list, sizeof(list), urls, &n, tls,
	                           errbuf, errlen);

	if (err)
		return err;
	return ghc_status(natsOptions_SetServers(c->nopts, urls, n), 0,
	                  "[nats] servers", errbuf, errlen);
}

int
ghc_check(const struct gh_conf *conf, unsigned domains, ghc_problem_fn fn,
          void *arg)
{
	const char *creds = gh_conf_str(conf, "nats", "credentials");
	const char *nkey = gh_conf_str(conf, "nats", "nkey_seed");
	const char *secret = creds && *creds ? creds : nkey;
	const char *urls[GHC_SERVERS_MAX];
	char list[4096], msg[4400], path[4096];
	struct ghc_opts o;
	int n = 0, tls = 0, bad = 0;

	if (!ghc_enabled(conf))
		return 0;
	if (ghc_opts_load(conf, &o, msg, sizeof(msg)) != GH_OK) {
		fn(arg, msg);
		bad++;
	}
	if (parse_servers(conf, list, sizeof(list), urls, &n, &tls, msg,
	                  sizeof(msg)) != GH_OK) {
		fn(arg, msg);
		bad++;
	}
	if (creds && *creds && nkey && *nkey) {
		fn(arg, "[nats] credentials and nkey_seed are both set; choose "
		   "one");
		return bad + 1;
	}
	for (int d = 0; secret && *secret && d < GH_DOMAIN_COUNT_; d++) {
		struct stat sb;

		if (!(domains & (1u << d)))
			continue;
		if (ghc_expand(secret, (enum gh_domain)d, path,
		               sizeof(path)) != GH_OK) {
			snprintf(msg, sizeof(msg), "[nats] %s: a %% other than %%d "
			         "or %%%%, or too long", secret == creds ?
			         "credentials" : "nkey_seed");
			fn(arg, msg);
			return bad + 1;
		}
		/* looked at, not opened: the file is another uid's to read */
		if (lstat(path, &sb) != 0)
			snprintf(msg, sizeof(msg), "%s (the %s domain's NATS "
			         "secret): %s", path,
			         gh_domain_name((enum gh_domain)d), strerror(errno));
		else if (!S_ISREG(sb.st_mode))
			snprintf(msg, sizeof(msg), "%s (the %s domain's NATS "
			         "secret): not a regular file%s", path,
			         gh_domain_name((enum gh_domain)d),
			         S_ISLNK(sb.st_mode) ? " (a link: refused)" : "");
		else if (sb.st_mode & (S_IRWXG | S_IRWXO))
			snprintf(msg, sizeof(msg), "%s (the %s domain's NATS "
			         "secret): mode %04o lets group or others read or "
			         "change it; refused (chmod 0600 it)", path,
			         gh_domain_name((enum gh_domain)d),
			         (unsigned)(sb.st_mode & 07777));
		else
			continue;
		fn(arg, msg);
		bad++;
	}
	return bad;
}

/*
 * The client certificate and its key, each path with %d expanded (so
 * each domain has its own, as with credentials), read without following
 * a link; the key as a secret (gh_file_read_into's GH_FILE_SECRET), and
 * wiped once the client has its own copy.
 */
static gh_err
load_client_cert(struct ghc *c, enum gh_domain dom, const char *cert,
                 const char *key, char *errbuf, size_t errlen)
{
	char cpath[4096], kpath[4096];
	char *pem = NULL, *kbuf = NULL;
	size_t plen = 0;
	natsStatus s;
	gh_err err;

	err = ghc_expand(cert, dom, cpath, sizeof(cpath));
	if (err == GH_OK)
		err = ghc_expand(key, dom, kpath, sizeof(kpath));
	if (err) {
		say(errbuf, errlen, "[nats] tls_cert or tls_key: a path with "
		    "%%d (the domain) or %%%%, at most 4095 bytes");
		return GH_ECONFIG;
	}
	err = gh_file_read(cpath, 0, GHC_SECRET_MAX * 4, &pem, &plen, errbuf,
	                   errlen);
	if (err)
		goto cleanup;
	kbuf = malloc(GHC_SECRET_MAX + 1);
	if (kbuf == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	/* a key in the certificate's file is read again, as a secret */
	err = ghc_read_secret(kpath, kbuf, GHC_SECRET_MAX + 1, errbuf, errlen);
	if (err)
		goto cleanup;
	s = natsOptions_SetCertificatesChain(c->nopts, pem, kbuf);
	if (s != NATS_OK)
		err = ghc_status(s, 0, "[nats] tls_cert/tls_key", errbuf,
		                 errlen);
cleanup:
	if (kbuf != NULL) {
		OPENSSL_cleanse(kbuf, GHC_SECRET_MAX + 1);
		free(kbuf);
	}
	free(pem);
	return err;
}

gh_err
ghc_open(const struct gh_conf *conf, enum gh_domain dom, struct ghc **out,
         char *errbuf, size_t errlen)
{
	struct ghc *c;
	const char *ca = gh_conf_str(conf, "nats", "tls_ca");
	const char *cert = gh_conf_str(conf, "nats", "tls_cert");
	const char *key = gh_conf_str(conf, "nats", "tls_key");
	char name[128], inbox[64];
	jsOptions jo;
	int tls = 0;
	natsStatus s;
	gh_err err;

	*out = NULL;
	if (!ghc_enabled(conf)) {
		say(errbuf, errlen, "[nats] servers is not set");
		return GH_ECONFIG;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return GH_ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->dom = dom;
	err = ghc_opts_load(conf, &c->o, errbuf, errlen);
	if (err)
		goto fail;
	s = natsOptions_Create(&c->nopts);
	if (s != NATS_OK) {
		err = ghc_status(s, 0, "NATS client", errbuf, errlen);
		goto fail;
	}
	err = set_servers(c, conf, &tls, errbuf, errlen);
	if (err == GH_OK)
		err = set_secret(c, conf, errbuf, errlen);
	if (err)
		goto fail;
	snprintf(name, sizeof(name), "gatehouse %s@%s", gh_domain_name(dom),
	         c->o.host);
	s = natsOptions_SetName(c->nopts, name);
	/* replies (JetStream acks, API answers, fetched messages) come to
	 * _GH_INBOX.DOMAIN.*: the server lets each domain's user subscribe to
	 * its own only, so the web user cannot read what the core fetches */
	snprintf(inbox, sizeof(inbox), "%s.%s", GHC_INBOX,
	         gh_domain_name(dom));
	if (s == NATS_OK)
		s = natsOptions_SetCustomInboxPrefix(c->nopts, inbox);
	/* reconnect for ever: the host's stores are the spool meanwhile */
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(c->nopts, err_cb, c);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(c->nopts, closed_cb, c);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(c->nopts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(c->nopts, GHC_RECONNECT_WAIT_MS);
	/* with a callback, a first connection that fails is retried in the
	 * client's threads: Connect returns at once (without one it would
	 * block until connected, for ever with no limit of attempts) */
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(c->nopts, true,
		                                        connected_cb, c);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(c->nopts, c->o.connect_timeout_ms);
	if (s == NATS_OK && (tls || (ca && *ca) || (cert && *cert)))
		s = natsOptions_SetSecure(c->nopts, true);
	if (s == NATS_OK && ca && *ca)
		s = natsOptions_LoadCATrustedCertificates(c->nopts, ca);
	if (s == NATS_OK && cert && *cert) {
		err = load_client_cert(c, dom, cert, key && *key ? key : cert,
		                       errbuf, errlen);
		if (err)
			goto fail;
	}
	if (s != NATS_OK) {
		err = ghc_status(s, 0, "[nats] options", errbuf, errlen);
		goto fail;
	}
	s = natsConnection_Connect(&c->nc, c->nopts);
	/* not yet connected: the client goes on trying in its threads */
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		err = ghc_status(s, 0, "cannot connect to [nats] servers",
		                 errbuf, errlen);
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.Wait = c->o.connect_timeout_ms;
	s = natsConnection_JetStream(&c->js, c->nc, &jo);
	if (s != NATS_OK) {
		err = ghc_status(s, 0, "JetStream context", errbuf, errlen);
		goto fail;
	}
	*out = c;
	return GH_OK;
fail:
	ghc_close(c);
	return err;
}

void
ghc_close(struct ghc *c)
{
	int closed = 1;   /* no connection: no callback to wait for */

	if (c == NULL)
		return;
	jsCtx_Destroy(c->js);
	if (c->nc != NULL) {
		struct timespec until;

		natsConnection_Close(c->nc);
		/* the closed callback comes last, from the client's thread:
		 * wait for it (a few seconds at most), so that no callback
		 * runs on c once it is freed */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		pthread_mutex_lock(&c->mu);
		while (!c->closed &&
		       pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
			;
		closed = c->closed;
		pthread_mutex_unlock(&c->mu);
		natsConnection_Destroy(c->nc);
	}
	natsOptions_Destroy(c->nopts);
	OPENSSL_cleanse(c->jwt, sizeof(c->jwt));
	OPENSSL_cleanse(c->seed, sizeof(c->seed));
	/* the closed callback has not come yet: it may still, and gets c;
	 * leave c to it rather than free what it would use (a few bytes,
	 * once, at exit) */
	if (!closed)
		return;
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct ghc_opts *
ghc_opts(const struct ghc *c)
{
	return &c->o;
}

natsConnection *
ghc_conn(struct ghc *c)
{
	return c->nc;
}

jsCtx *
ghc_js(struct ghc *c)
{
	return c->js;
}

int
ghc_connected(struct ghc *c)
{
	return c != NULL && c->nc != NULL &&
	       natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

void
ghc_url(struct ghc *c, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	buf[0] = '\0';
	if (ghc_connected(c) &&
	    natsConnection_GetConnectedUrl(c->nc, buf, cap) != NATS_OK)
		buf[0] = '\0';
}

gh_err
ghc_subject(const struct ghc_opts *o, const char *kind, const char *domain,
            const char *host, char *buf, size_t cap)
{
	int n;

	if (!ghc_token_ok(kind) || !ghc_token_ok(domain) ||
	    !ghc_token_ok(host))
		return GH_EINVAL;
	n = snprintf(buf, cap, "%s.%s.%s.%s", o->prefix, kind, domain, host);
	return n > 0 && (size_t)n < cap ? GH_OK : GH_ETOOBIG;
}

gh_err
ghc_bucket(const struct ghc_opts *o, const char *name, char *buf,
           size_t cap)
{
	int n;

	if (!ghc_token_ok(name))
		return GH_EINVAL;
	n = snprintf(buf, cap, "%s_%s", o->prefix, name);
	return n > 0 && (size_t)n < cap ? GH_OK : GH_ETOOBIG;
}

/* Add the stream; if one of that name exists with another configuration,
 * make it this one (an admin's change of replicas, say). */
static gh_err
put_stream(struct ghc *c, jsStreamConfig *cfg, char *errbuf, size_t errlen)
{
	jsErrCode jerr = 0;
	natsStatus s = js_AddStream(NULL, c->js, cfg, NULL, &jerr);

	if (s != NATS_OK && jerr == JSStreamNameExistErr) {
		jerr = 0;
		s = js_UpdateStream(NULL, c->js, cfg, NULL, &jerr);
	}
	if (s != NATS_OK) {
		char what[128];

		snprintf(what, sizeof(what), "stream %s", cfg->Name);
		return ghc_status(s, jerr, what, errbuf, errlen);
	}
	return GH_OK;
}

/* The heartbeat bucket PREFIX_hosts, made by hand rather than by
 * js_CreateKeyValue, which allows rollups: every producer domain may write
 * its own HOST.DOMAIN keys, and one "Nats-Rollup: all" header would then
 * purge every host's heartbeat.  It also bounds what one domain can add:
 * small values, few keys, an hour's age (a heartbeat older is no use). */
static gh_err
put_hosts(struct ghc *c, char *errbuf, size_t errlen)
{
	jsStreamConfig cfg;
	char bucket[GHC_TOKEN_MAX * 2 + 2], name[GHC_TOKEN_MAX * 2 + 8];
	char subj[GHC_SUBJECT_MAX];
	const char *subjects[1] = {subj};

	if (ghc_bucket(&c->o, "hosts", bucket, sizeof(bucket)) != GH_OK) {
		say(errbuf, errlen, "bucket hosts: name too long");
		return GH_EINVAL;
	}
	snprintf(name, sizeof(name), "KV_%s", bucket);
	snprintf(subj, sizeof(subj), "$KV.%s.>", bucket);
	jsStreamConfig_Init(&cfg);
	cfg.Name = name;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_LimitsPolicy;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = c->o.replicas;
	cfg.MaxMsgsPerSubject = 1;
	cfg.MaxMsgSize = GHC_HOSTS_MSG_MAX;
	cfg.MaxMsgs = GHC_HOSTS_MAX_KEYS;
	cfg.MaxBytes = (int64_t)GHC_HOSTS_MAX_KEYS * GHC_HOSTS_MSG_MAX;
	cfg.MaxAge = GHC_HOSTS_MAX_AGE_MS * 1000000;
	/* full: the oldest goes, so junk cannot lock live hosts out */
	cfg.Discard = js_DiscardOld;
	cfg.AllowRollup = false;
	cfg.DenyDelete = true;
	cfg.DenyPurge = true;
	cfg.AllowDirect = true;
	return put_stream(c, &cfg, errbuf, errlen);
}

gh_err
ghc_ensure_stream(struct ghc *c, char *errbuf, size_t errlen)
{
	jsStreamConfig cfg;
	char subj[GHC_SUBJECT_MAX], dead[GHC_TOKEN_MAX + 8];
	const char *subjects[1] = {subj};
	gh_err err;

	snprintf(subj, sizeof(subj), "%s.events.>", c->o.prefix);
	jsStreamConfig_Init(&cfg);
	cfg.Name = c->o.stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_WorkQueuePolicy;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = c->o.replicas;
	cfg.Duplicates = (int64_t)GHC_DUP_WINDOW_MS * 1000000;
	/* one bridge message and its headers: nothing larger is an event */
	cfg.MaxMsgSize = (int32_t)GHC_EVENT_MSG_MAX;
	cfg.MaxBytes = c->o.stream_max_bytes;
	/* full: the publisher is told (its bridge keeps the event in its
	 * journal and retries), never an older event dropped */
	cfg.Discard = js_DiscardNew;
	err = put_stream(c, &cfg, errbuf, errlen);
	if (err)
		return err;
	snprintf(subj, sizeof(subj), "%s.dead.>", c->o.prefix);
	snprintf(dead, sizeof(dead), "%s_DEAD", c->o.stream);
	jsStreamConfig_Init(&cfg);
	cfg.Name = dead;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_LimitsPolicy;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = c->o.replicas;
	cfg.MaxAge = GHC_DEAD_MAX_AGE_MS * 1000000;
	cfg.MaxBytes = c->o.stream_max_bytes;
	cfg.Discard = js_DiscardOld;
	err = put_stream(c, &cfg, errbuf, errlen);
	if (err)
		return err;
	return put_hosts(c, errbuf, errlen);
}

gh_err
ghc_kv(struct ghc *c, const char *name, int create, int history,
       kvStore **out, char *errbuf, size_t errlen)
{
	char bucket[GHC_TOKEN_MAX * 2 + 2], what[160];
	kvConfig kc;
	natsStatus s;

	*out = NULL;
	if (ghc_bucket(&c->o, name, bucket, sizeof(bucket)) != GH_OK) {
		say(errbuf, errlen, "bucket name %.64s: not a token", name);
		return GH_EINVAL;
	}
	snprintf(what, sizeof(what), "bucket %s", bucket);
	s = js_KeyValue(out, c->js, bucket);
	if (s == NATS_OK || !create || s != NATS_NOT_FOUND)
		return ghc_status(s, 0, what, errbuf, errlen);
	kvConfig_Init(&kc);
	kc.Bucket = bucket;
	kc.History = (uint8_t)(history < 1 ? 1 : history > 64 ? 64 : history);
	kc.StorageType = js_FileStorage;
	kc.Replicas = c->o.replicas;
	s = js_CreateKeyValue(out, c->js, &kc);
	return ghc_status(s, 0, what, errbuf, errlen);
}
