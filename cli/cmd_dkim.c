/*
 * cmd_dkim.c - `gatehouse dkim keygen|rotate|list` and `gatehouse dns
 * records`: the DKIM keys gatehouse-milter signs with, kept in the key
 * directory ([dkim] key_dir, see milter/signtable.h), and the DNS records
 * a domain needs.
 *
 *   gatehouse dkim keygen --domain D --selector S [--type rsa|ed25519]
 *                         [--bits N] [--out FILE] [--force]
 *   gatehouse dkim rotate --domain D [--type T] [--bits N] [--selector S]
 *                         [--grace DURATION] [--no-reload]
 *   gatehouse dkim list [--domain D] [--json]
 *   gatehouse dns records D [--json]
 *
 * KEY DIRECTORY
 *   KEY_DIR/DOMAIN/SELECTOR.key is a key that signs; SELECTOR.retire holds
 *   the time (seconds since the epoch) after which it stops signing;
 *   KEY_DIR/DOMAIN/retired/ keeps keys whose DNS record is no longer
 *   needed.
 *
 * ROTATION (no gap)
 *   `rotate` makes a new key per key type in use (so RSA + Ed25519 stays
 *   dual), under a new selector, of [dkim] rsa_bits for RSA unless --bits,
 *   and gives every old key of those types a retire time of now + grace
 *   (--grace, default 7 days).  Until then the milter signs with old and
 *   new: a receiver that cannot find the new DNS record yet still verifies
 *   the old signature.  After it, the old key stops signing by itself (the
 *   milter checks the retire time per message).  Its DNS record must stay
 *   published [dkim] retire_grace longer (default 7 days), for mail signed
 *   just before and still in transit: `dns records` and `dkim list` show
 *   each key's state from its retire time and the clock whenever they run
 *   (gh_dkim_key_state_at), so a key moves from retiring to retired to
 *   removable by itself, not at the next rotate; the next rotate moves
 *   removable keys to retired/.  The milter is
 *   told to reload so the new key signs at once: SIGHUP to the process
 *   that holds the lock on [milter] pid_file, if it runs gatehouse-milter
 *   ([milter] program) -- never to the pid the file's contents name, which
 *   the milter's user could have written (gatehouse/pidfile.h).
 *
 * Keys are written to a temporary file in the same directory, then
 * renamed, so the milter never loads half a key.  Run as root, keys are
 * root:<[milter] user's group> 0640 and their directories 0750 of that
 * group: the milter reads them and can change none (docs/security.md,
 * secrets per purpose); otherwise they are the caller's, 0600 in 0700.
 *
 * Keys are read, and their DNS record text derived, by libgatehouse
 * (gatehouse/dkimkey.h): the same code the milter loads them with, so a
 * key listed here is one the milter can sign with.  Only generating and
 * writing keys uses OpenSSL directly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "gatehouse/dkimkey.h"
#include "gatehouse/pidfile.h"
#include "cli.h"
#include "../milter/signtable.h"

#define MAX_KEYS 64

struct keyinfo {
	char selector[128];
	char path[PATH_MAX];
	gh_dkim_alg type;
	int bits;		/* -1: the file is not a usable key */
	int64_t retire_at;	/* seconds; 0: none */
	int retire_bad;		/* the .retire file is unreadable: retire_at
				 * is 1, retired long ago, as the milter
				 * takes it */
	int archived;		/* found in retired/ */
	char txt[GH_DKIM_TXT_MAX];
};

/* ---- names and paths ---- */

/* snprintf that says whether everything fit: 0, or -1 when cut. */
__attribute__((format(__printf__, 3, 4)))
static int
fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, cap, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' ||
	    strstr(s, ".."))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
domain_dir(struct cli *c, const char *domain, char *out, size_t cap)
{
	const char *kd = gh_conf_str(c->conf, "dkim", "key_dir");

	return fmt(out, cap, "%s/%s", kd, domain);
}

static int
mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- keys ---- */

/* Fill k's type, bits and TXT record text from the key file at path. */
static gh_err
read_key(const char *path, struct keyinfo *k, char *detail, size_t dlen)
{
	struct gh_dkim_key *key = NULL;
	gh_err err;

	err = gh_dkim_key_load(path, &key, detail, dlen);
	if (err)
		return err;
	k->type = gh_dkim_key_alg(key);
	k->bits = (int)gh_dkim_key_bits(key);
	err = gh_dkim_key_txt(key, k->txt, sizeof(k->txt), NULL);
	gh_dkim_key_free(key);
	return err;
}

/* The k= name of a key type. */
static const char *
type_name(gh_dkim_alg t)
{
	return t == GH_DKIM_RSA_SHA256 ? "rsa" : "ed25519";
}

/* The group that reads the keys: [milter] user's, when we are root and
 * that user exists; -1 otherwise (the keys stay the caller's alone). */
static gid_t
key_group(struct cli *c)
{
	const char *user = gh_conf_str(c->conf, "milter", "user");
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return (gid_t)-1;
	pw = getpwnam(user);
	return pw ? pw->pw_gid : (gid_t)-1;
}

/* Give a key file (by descriptor) its owner and mode. */
static int
secure_key(struct cli *c, int fd)
{
	gid_t gid = key_group(c);

	if (gid != (gid_t)-1 && fchown(fd, 0, gid) != 0)
		return -1;
	return fchmod(fd, gid != (gid_t)-1 ? 0640 : 0600);
}

/* Make path (and its parents) a key directory: opened without following
 * a link, given root and the keys' group, 0750 (0700 without a group). */
static int
key_dir(struct cli *c, const char *path)
{
	gid_t gid = key_group(c);
	int fd, rc;

	if (mkdirs(path, 0755) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = gid != (gid_t)-1 ? fchown(fd, 0, gid) : 0;
	if (rc == 0)
		rc = fchmod(fd, gid != (gid_t)-1 ? 0750 : 0700);
	close(fd);
	return rc;
}

/*
 * Generate a key into path (temp file + rename); fill k.  The record text
 * comes from reading the temp file back, as the milter will read it, so
 * a key that would not sign is never put in place.
 */
static int
generate(struct cli *c, const char *path, gh_dkim_alg type, int bits,
         struct keyinfo *k)
{
	int rsa = type == GH_DKIM_RSA_SHA256;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	char tmp[PATH_MAX], detail[PATH_MAX + 128] = "";
	FILE *f = NULL;
	int fd = -1, rc = EXIT_SOFTWARE;
	gh_err err;

	ctx = EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &pk) != 1) {
		cli_eprintf("%s: key generation failed\n", c->prog);
		goto cleanup;
	}
	if (fmt(tmp, sizeof(tmp), "%s.XXXXXX", path) != 0)
		goto cleanup;
	fd = mkstemp(tmp);
	if (fd < 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	if (secure_key(c, fd) != 0)
		goto io;
	f = fdopen(fd, "w");
	if (f == NULL)
		goto io;
	fd = -1;
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto io;
	if (fclose(f) != 0) {
		f = NULL;
		goto io;
	}
	f = NULL;
	memset(k, 0, sizeof(*k));
	err = read_key(tmp, k, detail, sizeof(detail));
	if (err) {
		unlink(tmp);
		rc = cli_fail(c, err, "new key", detail);
		goto cleanup;
	}
	if (rename(tmp, path) != 0)
		goto io;
	(void)fmt(k->path, sizeof(k->path), "%s", path);
	rc = EXIT_OK;
	goto cleanup;
io:
	cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
	unlink(tmp);
	rc = EXIT_IOERR;
cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* ---- reading a domain's directory ---- */

/* The .retire stamp as the milter reads it (signtable.h): 0 and *at 0
 * when there is none, -1 when it is unreadable or not a time. */
static int
read_retire(const char *path, int64_t *at)
{
	gh_err err = gm_keydir_read_retire(path, at);

	if (err == GH_ENOTFOUND)
		*at = 0;
	return err == GH_OK || err == GH_ENOTFOUND ? 0 : -1;
}

static int
cmp_sel(const void *a, const void *b)
{
	return strcmp(((const struct keyinfo *)a)->selector,
	              ((const struct keyinfo *)b)->selector);
}

/* The keys of one directory, appended to keys[*n..max). */
static void
scan_dir(const char *dir, int archived, struct keyinfo *keys, size_t *n,
         size_t max)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && *n < max) {
		size_t len = strlen(de->d_name);
		char rpath[PATH_MAX];
		struct keyinfo *k = &keys[*n];

		if (de->d_name[0] == '.' || len <= 4 ||
		    strcmp(de->d_name + len - 4, ".key") != 0 ||
		    len - 4 >= sizeof(k->selector))
			continue;
		memset(k, 0, sizeof(*k));
		memcpy(k->selector, de->d_name, len - 4);
		(void)fmt(k->path, sizeof(k->path), "%s/%s", dir, de->d_name);
		(void)fmt(rpath, sizeof(rpath), "%s/%s.retire", dir, k->selector);
		if (read_retire(rpath, &k->retire_at) != 0) {
			k->retire_at = 1;
			k->retire_bad = 1;
		}
		/* a key in retired/ without its .retire: retired long ago */
		if (archived && k->retire_at == 0)
			k->retire_at = 1;
		k->archived = archived;
		if (read_key(k->path, k, NULL, 0) != GH_OK)
			k->bits = -1;	/* listed, never used */
		(*n)++;
	}
	closedir(d);
}

/*
 * The keys of one domain directory, sorted by selector; with archive, also
 * those in its retired/ (older versions moved keys there at their retire
 * time, before their record could go: their state still says whether it
 * is needed).
 */
static size_t
scan_domain(const char *dir, int archive, struct keyinfo *keys, size_t max)
{
	char rdir[PATH_MAX];
	size_t n = 0, live, all;

	scan_dir(dir, 0, keys, &n, max);
	live = n;
	if (archive && fmt(rdir, sizeof(rdir), "%s/retired", dir) == 0) {
		scan_dir(rdir, 1, keys, &n, max);
		/* a selector in use again: its archived key has no record */
		all = n;
		n = live;
		for (size_t i = live; i < all; i++) {
			size_t j = 0;

			while (j < live && strcmp(keys[j].selector,
			                          keys[i].selector) != 0)
				j++;
			if (j < live)
				continue;
			if (n != i)	/* no overlapping struct copy */
				keys[n] = keys[i];
			n++;
		}
	}
	qsort(keys, n, sizeof(keys[0]), cmp_sel);
	return n;
}

/* [dkim] retire_grace in seconds. */
static int64_t
retire_grace(struct cli *c)
{
	return (int64_t)(gh_conf_int(c->conf, "dkim", "retire_grace") / 1000);
}

/* Where k is in its life now; *until gets the end of its grace period. */
static gh_dkim_key_state
key_state(struct cli *c, const struct keyinfo *k, int64_t now,
          int64_t *until)
{
	return gh_dkim_key_state_at(k->retire_at, retire_grace(c), now, until);
}

/* dkim list's STATE column. */
static const char *
state_text(gh_dkim_key_state st, const struct keyinfo *k, int64_t until,
           char *buf, size_t cap)
{
	char t[32];

	if (k->bits < 0)
		return "unreadable";
	switch (st) {
	case GH_DKIM_KEY_ACTIVE:
		return "active";
	case GH_DKIM_KEY_RETIRING:
		(void)fmt(buf, cap, "retiring %s",
		          cli_time(k->retire_at * 1000, t, sizeof(t)));
		break;
	case GH_DKIM_KEY_RETIRED:
		(void)fmt(buf, cap, "retired, publish until %s",
		          cli_time(until * 1000, t, sizeof(t)));
		break;
	case GH_DKIM_KEY_REMOVABLE:
		(void)fmt(buf, cap, "removable since %s",
		          cli_time(until * 1000, t, sizeof(t)));
		break;
	}
	return buf;
}

/* ---- output ---- */

/* A zone-file TXT record: strings of at most 255 bytes (RFC 1035). */
static void
print_txt_record(const char *name, const char *txt)
{
	size_t n = strlen(txt);

	cli_printf("%s IN TXT (", name);
	for (size_t i = 0; i < n; i += 250)
		cli_printf(" \"%.*s\"", (int)(n - i > 250 ? 250 : n - i), txt + i);
	cli_printf(" )\n");
}

static void
print_key_record(const char *domain, const struct keyinfo *k)
{
	char name[600];

	(void)fmt(name, sizeof(name), "%s._domainkey.%s.", k->selector, domain);
	print_txt_record(name, k->txt);
}

/*
 * Tell a running milter to reload.  The pid file lies in a directory the
 * milter's user can write, and we are usually root: so we signal the process
 * holding the milter's lock on the file, and only if it runs gatehouse-milter,
 * never the number the file contains (gatehouse/pidfile.h).  Returns
 * EXIT_OK when signalled or when the milter is not running (it loads the
 * new keys when it starts), else an exit code with the reason on stderr.
 */
static int
signal_milter(struct cli *c, int nmade)
{
	/* The installed daemon, and the sanitized build the tests run. */
	static const char *const names[] = {
		"gatehouse-milter", "gatehouse-milter-asan", NULL
	};
	const char *pf = gh_conf_str(c->conf, "milter", "pid_file");
	const char *prog = gh_conf_str(c->conf, "milter", "program");
	struct gh_pidfile_holder h;
	char why[PATH_MAX + 256];
	gh_err err;

	if (pf == NULL || *pf == '\0') {
		cli_printf("no [milter] pid_file: reload gatehouse-milter (SIGHUP) "
		       "to start signing with the new key%s\n",
		       nmade > 1 ? "s" : "");
		return EXIT_OK;
	}
	err = gh_pidfile_signal(pf, SIGHUP, names, prog, &h, why, sizeof(why));
	if (h.pid > 0 && h.written != 0 && h.written != h.pid)
		cli_eprintf("%s: note: %s says pid %ld, but pid %ld holds "
		        "its lock: the file was rewritten\n", c->prog, pf,
		        (long)h.written, (long)h.pid);
	if (err == GH_OK) {
		cli_printf("gatehouse-milter (pid %ld) told to reload\n",
		       (long)h.pid);
		return EXIT_OK;
	}
	if (err == GH_ENOTFOUND) {
		cli_printf("gatehouse-milter is %s; it loads the new key%s when it "
		       "starts\n", why, nmade > 1 ? "s" : "");
		return EXIT_OK;
	}
	cli_eprintf("%s: gatehouse-milter not signalled: %s; reload it "
	        "yourself (SIGHUP) to sign with the new key%s\n", c->prog, why,
	        nmade > 1 ? "s" : "");
	return cli_exit_code(err);
}

/* ---- commands ---- */

struct kopts {
	const char *domain, *selector, *out, *type;
	int bits, bits_set, force, no_reload;
	long long grace_ms;
};

static int
parse_kopts(struct cli *c, int argc, char **argv, struct kopts *o,
            const char *sub)
{
	static const struct option lo[] = {
		{"domain", required_argument, NULL, 'd'},
		{"selector", required_argument, NULL, 's'},
		{"type", required_argument, NULL, 't'},
		{"bits", required_argument, NULL, 'b'},
		{"out", required_argument, NULL, 'o'},
		{"grace", required_argument, NULL, 'g'},
		{"force", no_argument, NULL, 'f'},
		{"no-reload", no_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->grace_ms = 7 * 86400 * 1000LL;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->domain = optarg;
			break;
		case 's':
			o->selector = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case 'b':
			o->bits = atoi(optarg);
			o->bits_set = 1;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'g':
			if (gh_parse_duration_ms(optarg, &o->grace_ms) != GH_OK ||
			    o->grace_ms < 0)
				return cli_usage(c, "dkim %s: bad --grace '%s'", sub,
				                 optarg);
			break;
		case 'f':
			o->force = 1;
			break;
		case 'n':
			o->no_reload = 1;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "dkim %s: unknown option", sub);
		}
	}
	if (optind != argc)
		return cli_usage(c, "dkim %s: unexpected argument '%s'", sub,
		                 argv[optind]);
	if (o->type && strcmp(o->type, "rsa") != 0 &&
	    strcmp(o->type, "ed25519") != 0)
		return cli_usage(c, "dkim %s: --type is rsa or ed25519", sub);
	if (o->bits_set && (o->bits < GH_DKIM_RSA_MIN_BITS ||
	                    o->bits > GH_DKIM_RSA_MAX_BITS))
		return cli_usage(c, "dkim %s: --bits must be %d to %d", sub,
		                 GH_DKIM_RSA_MIN_BITS, GH_DKIM_RSA_MAX_BITS);
	if (o->domain && !name_ok(o->domain))
		return cli_usage(c, "dkim %s: '%s' is not a domain", sub,
		                 o->domain);
	if (o->selector && !name_ok(o->selector))
		return cli_usage(c, "dkim %s: '%s' is not a selector", sub,
		                 o->selector);
	return EXIT_OK;
}

static int
dkim_keygen(struct cli *c, int argc, char **argv)
{
	struct kopts o;
	struct keyinfo k;
	char dir[PATH_MAX], path[PATH_MAX], dom[256];
	int rc = parse_kopts(c, argc, argv, &o, "keygen");

	if (rc)
		return rc;
	if (!o.domain || !o.selector)
		return cli_usage(c, "dkim keygen: --domain and --selector are "
		                 "required");
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	if (!o.bits_set)
		o.bits = (int)gh_conf_int(c->conf, "dkim", "rsa_bits");
	(void)fmt(dom, sizeof(dom), "%s", o.domain);
	lower(dom);
	if (o.out) {
		(void)fmt(path, sizeof(path), "%s", o.out);
	} else {
		if (domain_dir(c, dom, dir, sizeof(dir)) != 0 ||
		    fmt(path, sizeof(path), "%s/%s.key", dir, o.selector) != 0)
			return cli_fail(c, GH_ETOOBIG, "key path", NULL);
		if (key_dir(c, gh_conf_str(c->conf, "dkim", "key_dir")) != 0 ||
		    key_dir(c, dir) != 0) {
			cli_eprintf("%s: %s: %s\n", c->prog, dir,
			            strerror(errno));
			return EXIT_IOERR;
		}
	}
	if (!o.force && access(path, F_OK) == 0) {
		cli_eprintf("%s: %s exists; use --force to replace it, or "
		            "'gatehouse dkim rotate' to change keys without a "
		            "gap\n", c->prog, path);
		return EXIT_USAGE;
	}
	rc = generate(c, path, o.type && strcmp(o.type, "ed25519") == 0 ?
	              GH_DKIM_ED25519_SHA256 : GH_DKIM_RSA_SHA256, o.bits, &k);
	if (rc)
		return rc;
	(void)fmt(k.selector, sizeof(k.selector), "%s", o.selector);
	if (c->json) {
		char name[600];
		json_t *j;

		(void)fmt(name, sizeof(name), "%s._domainkey.%s", o.selector,
		         dom);
		j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "domain",
		              dom, "selector", o.selector, "file", path, "type",
		              type_name(k.type), "bits", k.bits, "name", name,
		              "txt", k.txt);
		cli_print_json(j);
		json_decref(j);
		return EXIT_OK;
	}
	cli_printf("wrote %s (%s, %d bits)\n", path, type_name(k.type), k.bits);
	cli_printf("publish this DNS record:\n");
	print_key_record(dom, &k);
	return EXIT_OK;
}

static void
new_selector(const char *dir, gh_dkim_alg t, char *out, size_t cap)
{
	const char *pre = t == GH_DKIM_RSA_SHA256 ? "r" : "e";
	char base[64], path[PATH_MAX];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(base, sizeof(base), "%Y%m%d", &tm);
	for (int i = 1; i < 100; i++) {
		if (i == 1)
			(void)fmt(out, cap, "%s%s", pre, base);
		else
			(void)fmt(out, cap, "%s%s-%d", pre, base, i);
		(void)fmt(path, sizeof(path), "%s/%s.key", dir, out);
		if (access(path, F_OK) != 0)
			return;
	}
}

/* Move keys whose grace period is over (their DNS record is no longer
 * needed) into retired/; retired keys still in it stay, so that `dns
 * records` keeps listing them where the milter left them. */
static void
sweep_retired(struct cli *c, const char *dir, struct keyinfo *keys,
              size_t n, int64_t now)
{
	char rdir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];

	(void)fmt(rdir, sizeof(rdir), "%s/retired", dir);
	for (size_t i = 0; i < n; i++) {
		if (keys[i].archived || keys[i].bits < 0 ||
		    key_state(c, &keys[i], now, NULL) != GH_DKIM_KEY_REMOVABLE)
			continue;
		if (key_dir(c, rdir) != 0)
			return;
		(void)fmt(to, sizeof(to), "%s/%s.key", rdir, keys[i].selector);
		if (rename(keys[i].path, to) != 0)
			continue;
		(void)fmt(from, sizeof(from), "%s/%s.retire", dir,
		         keys[i].selector);
		(void)fmt(to, sizeof(to), "%s/%s.retire", rdir, keys[i].selector);
		(void)rename(from, to);
		cli_printf("moved retired key %s to %s/\n", keys[i].selector, rdir);
	}
}

static int
write_retire(const char *dir, const char *selector, int64_t at)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], buf[32];
	int fd, n;

	(void)fmt(path, sizeof(path), "%s/%s.retire", dir, selector);
	(void)fmt(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)at);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

static int
dkim_rotate(struct cli *c, int argc, char **argv)
{
	struct kopts o;
	struct keyinfo keys[MAX_KEYS], made[2];
	char dir[PATH_MAX], path[PATH_MAX], dom[256], t[32], t2[32];
	int64_t now = (int64_t)time(NULL), retire, keep;
	int want[2] = {0, 0}, nmade = 0;
	size_t n;
	int rc = parse_kopts(c, argc, argv, &o, "rotate");

	if (rc)
		return rc;
	if (!o.domain)
		return cli_usage(c, "dkim rotate: --domain is required");
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	(void)fmt(dom, sizeof(dom), "%s", o.domain);
	lower(dom);
	if (domain_dir(c, dom, dir, sizeof(dir)) != 0)
		return cli_fail(c, GH_ETOOBIG, "key path", NULL);
	n = scan_domain(dir, 0, keys, MAX_KEYS);
	for (size_t i = 0; i < n; i++)
		if (keys[i].bits > 0 && keys[i].retire_at == 0 &&
		    (!o.type || strcmp(o.type, type_name(keys[i].type)) == 0))
			want[keys[i].type] = 1;
	if (!want[GH_DKIM_RSA_SHA256] && !want[GH_DKIM_ED25519_SHA256]) {
		cli_eprintf("%s: no active %s key for %s in %s (make one "
		            "with 'gatehouse dkim keygen')\n", c->prog,
		            o.type ? o.type : "DKIM", dom, dir);
		return EXIT_NOTFOUND;
	}
	if (o.selector && want[GH_DKIM_RSA_SHA256] &&
	    want[GH_DKIM_ED25519_SHA256])
		return cli_usage(c, "dkim rotate: --selector names one key; "
		                 "this domain has RSA and Ed25519 keys: add "
		                 "--type");
	retire = now + o.grace_ms / 1000;
	(void)gh_dkim_key_state_at(retire, retire_grace(c), now, &keep);
	/* the configured size, not the old key's: rotating is when a key
	 * made small long ago gets the size the admin now asks for */
	if (!o.bits_set)
		o.bits = (int)gh_conf_int(c->conf, "dkim", "rsa_bits");
	for (int ty = GH_DKIM_RSA_SHA256; ty <= GH_DKIM_ED25519_SHA256; ty++) {
		char sel[128];

		if (!want[ty])
			continue;
		if (o.selector)
			(void)fmt(sel, sizeof(sel), "%s", o.selector);
		else
			new_selector(dir, (gh_dkim_alg)ty, sel, sizeof(sel));
		(void)fmt(path, sizeof(path), "%s/%s.key", dir, sel);
		if (access(path, F_OK) == 0) {
			cli_eprintf("%s: %s exists\n", c->prog, path);
			return EXIT_USAGE;
		}
		rc = generate(c, path, (gh_dkim_alg)ty, o.bits, &made[nmade]);
		if (rc)
			return rc;
		(void)fmt(made[nmade].selector, sizeof(made[nmade].selector),
		         "%s", sel);
		nmade++;
	}
	for (size_t i = 0; i < n; i++) {
		if (keys[i].bits <= 0 || keys[i].retire_at != 0 ||
		    !want[keys[i].type])
			continue;
		if (write_retire(dir, keys[i].selector, retire) != 0) {
			cli_eprintf("%s: %s/%s.retire: %s\n", c->prog, dir,
			            keys[i].selector, strerror(errno));
			return EXIT_IOERR;
		}
		cli_printf("%s: signs until %s, then retires\n", keys[i].selector,
		           cli_time(retire * 1000, t, sizeof(t)));
	}
	sweep_retired(c, dir, keys, n, now);
	for (int i = 0; i < nmade; i++) {
		cli_printf("new key %s (%s, %d bits): publish\n", made[i].selector,
		           type_name(made[i].type), made[i].bits);
		print_key_record(dom, &made[i]);
	}
	cli_printf("Old and new keys both sign until %s.  Keep the old DNS "
	       "records published until %s, for mail in transit ([dkim] "
	       "retire_grace); 'gatehouse dns records %s' lists them until "
	       "then.\n", cli_time(retire * 1000, t, sizeof(t)),
	       cli_time(keep * 1000, t2, sizeof(t2)), dom);
	if (o.no_reload)
		return EXIT_OK;
	return signal_milter(c, nmade);
}

static int
dkim_list(struct cli *c, int argc, char **argv)
{
	struct kopts o;
	struct keyinfo keys[MAX_KEYS];
	char dir[PATH_MAX], buf[80];
	json_t *arr = NULL;
	struct dirent *de;
	DIR *d;
	const char *kd;
	int64_t now = (int64_t)time(NULL);
	int rc = parse_kopts(c, argc, argv, &o, "list");

	if (rc)
		return rc;
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	kd = gh_conf_str(c->conf, "dkim", "key_dir");
	d = opendir(kd);
	if (d == NULL) {
		cli_eprintf("%s: %s: %s\n", c->prog, kd, strerror(errno));
		return errno == ENOENT ? EXIT_NOTFOUND : EXIT_IOERR;
	}
	if (c->json)
		arr = json_array();
	else
		cli_printf("%-24s %-16s %-8s %-5s %-43s %s\n", "DOMAIN", "SELECTOR",
		           "TYPE", "BITS", "STATE", "FILE");
	while ((de = readdir(d)) != NULL) {
		size_t n;

		if (de->d_name[0] == '.' ||
		    (o.domain && strcasecmp(o.domain, de->d_name) != 0))
			continue;
		(void)fmt(dir, sizeof(dir), "%s/%s", kd, de->d_name);
		n = scan_domain(dir, 1, keys, MAX_KEYS);
		for (size_t i = 0; i < n; i++) {
			int64_t until;
			gh_dkim_key_state ks = key_state(c, &keys[i], now,
			                                 &until);
			const char *st = state_text(ks, &keys[i], until, buf,
			                            sizeof(buf));

			/* archived and no longer published: history */
			if (keys[i].archived && (keys[i].bits < 0 ||
			    ks == GH_DKIM_KEY_REMOVABLE))
				continue;
			if (arr) {
				json_array_append_new(arr, json_pack(
				    "{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:s, "
				    "s:s}",
				    "domain", de->d_name, "selector",
				    keys[i].selector, "type",
				    type_name(keys[i].type), "bits", keys[i].bits,
				    "state", keys[i].bits < 0 ? "unreadable" :
				    gh_dkim_key_state_name(ks), "retire_at",
				    (json_int_t)keys[i].retire_at, "keep_until",
				    (json_int_t)until, "file", keys[i].path,
				    "txt", keys[i].txt));
				continue;
			}
			cli_printf("%-24s %-16s %-8s %-5d %-43s %s\n", de->d_name,
			           keys[i].selector, type_name(keys[i].type),
			           keys[i].bits, st, keys[i].path);
		}
	}
	closedir(d);
	if (arr) {
		cli_print_json(arr);
		json_decref(arr);
	}
	return EXIT_OK;
}

int
cmd_dkim(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub == NULL)
		return cli_usage(c, "dkim: expected keygen, rotate or list");
	if (strcmp(sub, "keygen") == 0)
		return dkim_keygen(c, argc - 1, argv + 1);
	if (strcmp(sub, "rotate") == 0)
		return dkim_rotate(c, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return dkim_list(c, argc - 1, argv + 1);
	return cli_usage(c, "dkim: unknown subcommand '%s'", sub);
}

/* ---- gatehouse dns records DOMAIN ---- */

struct section_keys {
	struct cli *c;
	const char *domain;
	struct keyinfo *keys;
	size_t n, max;
};

static void
section_key(const char *name, void *arg)
{
	struct section_keys *s = arg;
	const char *dom = gh_conf_str(s->c->conf, name, "domain");
	const char *sel = gh_conf_str(s->c->conf, name, "selector");
	const char *file = gh_conf_str(s->c->conf, name, "key_file");
	const char *sdid = gh_conf_str(s->c->conf, name, "signing_domain");
	char detail[PATH_MAX + 128] = "";
	struct keyinfo *k;
	gh_err err;

	if (!dom || !sel || !file || s->n == s->max ||
	    strcasecmp(sdid ? sdid : dom, s->domain) != 0)
		return;
	k = &s->keys[s->n];
	memset(k, 0, sizeof(*k));
	(void)fmt(k->selector, sizeof(k->selector), "%s", sel);
	(void)fmt(k->path, sizeof(k->path), "%s", file);
	err = read_key(file, k, detail, sizeof(detail));
	if (err == GH_OK)
		s->n++;
	else if (detail[0])	/* names the file */
		cli_eprintf("%s: warning: %s\n", s->c->prog, detail);
	else
		cli_eprintf("%s: warning: cannot read %s: %s\n",
		            s->c->prog, file, gh_strerror(err));
}

/* A DKIM key's place in `dns records`: publish it (and say until when,
 * once it has a retire time), say its record can go, or leave it out. */
enum pub { PUB_NONE, PUB_RECORD, PUB_REMOVABLE };

static enum pub
publication(const struct keyinfo *k, gh_dkim_key_state st)
{
	if (k->bits <= 0)
		return PUB_NONE;	/* unreadable: signs nothing */
	if (st != GH_DKIM_KEY_REMOVABLE)
		return PUB_RECORD;
	/* archived in retired/ and past its grace: history, not advice */
	return k->archived ? PUB_NONE : PUB_REMOVABLE;
}

int
cmd_dns(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	struct keyinfo keys[MAX_KEYS];
	gh_dkim_key_state st[MAX_KEYS];
	int64_t until[MAX_KEYS];
	struct section_keys sk;
	char dom[256], dir[PATH_MAX], name[600], dmarc[600], t[32], t2[32];
	const char *spf = "v=spf1 mx a ~all";
	int64_t now = (int64_t)time(NULL);
	size_t n, npub = 0;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "records") != 0)
		return cli_usage(c, "dns: expected 'records DOMAIN'");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(c, "dns records: unknown option");
		c->json = 1;
	}
	if (optind != argc - 1 || !name_ok(argv[optind]))
		return cli_usage(c, "dns records: expected one domain");
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	(void)fmt(dom, sizeof(dom), "%s", argv[optind]);
	lower(dom);
	if (domain_dir(c, dom, dir, sizeof(dir)) != 0)
		return cli_fail(c, GH_ETOOBIG, "key path", NULL);
	/*
	 * A key needs its record while it signs and, once retired, until its
	 * grace period ends (mail it signed may still be in transit): decided
	 * by the clock now, whether or not a rotate ran since.
	 */
	n = scan_domain(dir, 1, keys, MAX_KEYS);
	for (size_t i = 0; i < n; i++) {
		st[i] = key_state(c, &keys[i], now, &until[i]);
		if (keys[i].retire_bad && !keys[i].archived &&
		    keys[i].bits > 0)
			cli_eprintf("%s: warning: %s/%s.retire is unreadable: "
			            "key %s is taken as retired long ago, as "
			            "gatehouse-milter takes it\n", c->prog, dir,
			            keys[i].selector, keys[i].selector);
	}
	sk.c = c;
	sk.domain = dom;
	sk.keys = keys + n;
	sk.n = 0;
	sk.max = MAX_KEYS - n;
	gh_conf_sections(c->conf, "dkim.", section_key, &sk);
	for (size_t i = n; i < n + sk.n; i++) {	/* [dkim.NAME]: always on */
		st[i] = GH_DKIM_KEY_ACTIVE;
		until[i] = 0;
	}
	n += sk.n;
	(void)fmt(dmarc, sizeof(dmarc), "v=DMARC1; p=none; rua=mailto:"
	         "dmarc-reports@%s; adkim=r; aspf=r", dom);
	if (c->json) {
		json_t *recs = json_array();

		json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s}",
		    "name", dom, "type", "TXT", "value", spf, "purpose", "SPF"));
		/* records to publish only: a tool that syncs a zone from this
		 * list removes the others */
		for (size_t i = 0; i < n; i++) {
			json_t *r;

			if (publication(&keys[i], st[i]) != PUB_RECORD)
				continue;
			(void)fmt(name, sizeof(name), "%s._domainkey.%s",
			         keys[i].selector, dom);
			r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name,
			              "type", "TXT", "value", keys[i].txt,
			              "purpose", "DKIM", "state",
			              gh_dkim_key_state_name(st[i]));
			if (st[i] != GH_DKIM_KEY_ACTIVE) {
				json_object_set_new(r, "retire_at", json_integer(
				    (json_int_t)keys[i].retire_at));
				json_object_set_new(r, "keep_until", json_integer(
				    (json_int_t)until[i]));
			}
			json_array_append_new(recs, r);
		}
		(void)fmt(name, sizeof(name), "_dmarc.%s", dom);
		json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s}",
		    "name", name, "type", "TXT", "value", dmarc,
		    "purpose", "DMARC"));
		cli_print_json(recs);
		json_decref(recs);
		return EXIT_OK;
	}
	cli_printf("; SPF: who may send for %s.  \"mx a\" covers mail sent from "
	           "the domain's own\n; servers; add ip4:/ip6: for any other "
	           "sender, then tighten ~all to -all.\n", dom);
	(void)fmt(name, sizeof(name), "%s.", dom);
	print_txt_record(name, spf);
	cli_printf("\n; DKIM: one record per key gatehouse-milter signs with, "
	           "and per retired key\n; until its grace period ends "
	           "([dkim] retire_grace): mail it signed may\n; still be in "
	           "transit.  Times are UTC.\n");
	for (size_t i = 0; i < n; i++) {
		enum pub p = publication(&keys[i], st[i]);

		if (p == PUB_NONE)
			continue;
		cli_time(keys[i].retire_at * 1000, t, sizeof(t));
		cli_time(until[i] * 1000, t2, sizeof(t2));
		if (p == PUB_REMOVABLE) {
			cli_printf("; %s: retired %s, grace period over %s: "
			           "this record can be removed\n",
			           keys[i].selector, t, t2);
			continue;
		}
		npub++;
		if (st[i] == GH_DKIM_KEY_RETIRING)
			cli_printf("; %s: signs until %s; keep publishing until "
			           "%s\n", keys[i].selector, t, t2);
		else if (st[i] == GH_DKIM_KEY_RETIRED)
			cli_printf("; %s: retired %s, signs no more; keep "
			           "publishing until %s\n", keys[i].selector, t,
			           t2);
		print_key_record(dom, &keys[i]);
	}
	if (npub == 0)
		cli_printf("; (no keys for %s yet: gatehouse dkim keygen --domain %s "
		           "--selector NAME)\n", dom, dom);
	cli_printf("\n; DMARC: start by collecting reports (p=none); once they "
	           "show every\n; legitimate source signed and aligned, move to "
	           "p=quarantine, then p=reject.\n");
	(void)fmt(name, sizeof(name), "_dmarc.%s.", dom);
	print_txt_record(name, dmarc);
	return EXIT_OK;
}
