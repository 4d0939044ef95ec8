/*
 * cmd_tokens.c - `gatehouse tokens keygen|derive|make|check`: the master
 * key, the domains' key files derived from it, and the signed links of
 * docs/tokens.md, from the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gatehouse/codec.h"
#include "gatehouse/file.h"
#include "gatehouse/token.h"
#include "cli.h"

/* Who may read a key file: as root, root and the primary group of the
 * user [store] OWNER_KEY names (0640), or root alone (0600) when that is
 * unset or no such user; otherwise whoever runs us (0640, as before). */
struct key_reader {
	int chown;               /* as root: give the file to root:gid */
	gid_t gid;
	mode_t mode;
};

static void
key_reader(struct cli *c, const char *owner_key, const char *path,
           const char *who, struct key_reader *r)
{
	const char *name = gh_conf_str(c->conf, "store", owner_key);
	struct passwd *pw;

	r->chown = geteuid() == 0;
	r->gid = 0;
	r->mode = 0640;
	if (!r->chown)
		return;
	pw = name != NULL && *name != '\0' ? getpwnam(name) : NULL;
	if (pw != NULL) {
		r->gid = pw->pw_gid;
		return;
	}
	r->mode = 0600;
	if (name != NULL && *name != '\0')
		cli_eprintf("%s: note: [store] %s '%s': no such user; %s is "
		            "root:root 0600 until it exists (then run "
		            "'gatehouse tokens derive')\n", c->prog, owner_key,
		            name, path);
	else
		cli_eprintf("%s: note: [store] %s is not set, so %s is root:root "
		            "0600; set it to the user of %s so that its group "
		            "reads the file\n", c->prog, owner_key, path, who);
}

/* Write text to path through a temporary file in the same directory,
 * created O_EXCL|O_NOFOLLOW (nothing planted there is opened), then
 * renamed: a reader never sees half a key, and the file has its owner and
 * mode before it holds anything. */
static int
write_key_file(struct cli *c, const char *path, const char *text,
               const struct key_reader *r)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	unsigned char rnd[6];
	char suffix[2 * sizeof(rnd) + 1];
	size_t len = strlen(text);
	int fd = -1, dfd, tries, rc = EXIT_OK;

	for (tries = 0; tries < 8 && fd < 0; tries++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return cli_fail(c, GH_EIO, "no randomness", NULL);
		gh_hex_encode(rnd, sizeof(rnd), suffix, sizeof(suffix));
		if (snprintf(tmp, sizeof(tmp), "%s.%s", path, suffix) >=
		    (int)sizeof(tmp))
			return cli_fail(c, GH_ETOOBIG, path, NULL);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		          O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		return errno == EACCES || errno == EPERM ? EXIT_NOPERM :
		       EXIT_IOERR;
	}
	if ((r->chown && fchown(fd, 0, r->gid) != 0) ||
	    fchmod(fd, r->mode) != 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	if (gh_file_write_all(fd, text, len) != GH_OK) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	if (fsync(fd) != 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	if (rename(tmp, path) != 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, path, strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	/* the rename itself survives a crash */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		if (slash == dir)
			slash++;
		*slash = '\0';
		dfd = open(slash == dir ? "." : dir, O_RDONLY | O_DIRECTORY |
		           O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	cli_printf("wrote %s\n", path);
cleanup:
	close(fd);
	if (rc != EXIT_OK)
		unlink(tmp);
	return rc;
}

/* The domains' key files ([tokens] mail_key_file, web_key_file), from the
 * master: the mail domain gets the unsubscribe key it signs with, the web
 * domain the unsubscribe and download keys it checks, with the previous
 * master's as .previous lines during a rotation.  Neither gets a master
 * (docs/security.md, rule 8). */
static int
write_domain_files(struct cli *c, const struct gh_token_key *master)
{
	static const struct {
		const char *key, *owner_key, *who;
		unsigned mask;
		int previous;
	} files[] = {
		{"mail_key_file", "mail_owner", "gatehouse-milter",
		 GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE), 0},
		{"web_key_file", "web_owner", "the nginx workers",
		 GH_TOKEN_BIT(GH_TOKEN_UNSUBSCRIBE) |
		 GH_TOKEN_BIT(GH_TOKEN_DOWNLOAD), 1},
	};
	const char *main_path = gh_conf_str(c->conf, "tokens", "key_file");
	const char *prev_path = gh_conf_str(c->conf, "tokens",
	                                    "previous_key_file");
	struct gh_token_key prev;
	char text[2048], comment[1024], detail[512];
	int have_prev = 0, rc = EXIT_OK;
	gh_err err;

	memset(&prev, 0, sizeof(prev));
	if (prev_path != NULL && *prev_path != '\0') {
		err = gh_token_key_load(prev_path, &prev, detail, sizeof(detail));
		if (err == GH_OK && prev.len == 0) {
			cli_eprintf("%s: [tokens] previous_key_file %s is not a "
			            "master key\n", c->prog, prev_path);
			rc = EXIT_CONFIG;
			goto cleanup;
		}
		if (err != GH_OK && err != GH_ENOTFOUND) {
			cli_eprintf("%s: [tokens] previous_key_file: %s\n", c->prog,
			            detail);
			rc = EXIT_CONFIG;
			goto cleanup;
		}
		have_prev = err == GH_OK;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = gh_conf_str(c->conf, "tokens", files[i].key);
		const struct gh_token_key *pk = files[i].previous && have_prev ?
		                                &prev : NULL;
		struct key_reader r;

		if (path == NULL || *path == '\0')
			continue;
		if (strcmp(path, main_path) == 0 ||
		    (prev_path != NULL && strcmp(path, prev_path) == 0)) {
			cli_eprintf("%s: [tokens] %s must be a file of its own, not "
			            "%s\n", c->prog, files[i].key, path);
			rc = EXIT_CONFIG;
			goto cleanup;
		}
		/* paths cut short: the file stays far below what a key file
		 * may be (GH_TOKEN_FILE_MAX) */
		snprintf(comment, sizeof(comment), "%s for %s, derived from "
		         "%.256s%s%.256s\nby 'gatehouse tokens keygen' or "
		         "'derive' (docs/tokens.md); do not edit", files[i].key,
		         files[i].who, main_path, pk ? " and " : "",
		         pk ? prev_path : "");
		err = gh_token_key_format(master, pk, files[i].mask, comment, text,
		                          sizeof(text));
		if (err) {
			rc = cli_fail(c, err, files[i].key, NULL);
			goto cleanup;
		}
		key_reader(c, files[i].owner_key, path, files[i].who, &r);
		rc = write_key_file(c, path, text, &r);
		OPENSSL_cleanse(text, sizeof(text));
		if (rc != EXIT_OK)
			goto cleanup;
	}
cleanup:
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(&prev, sizeof(prev));
	return rc;
}

static int
has_domain_files(struct cli *c)
{
	const char *m = gh_conf_str(c->conf, "tokens", "mail_key_file");
	const char *w = gh_conf_str(c->conf, "tokens", "web_key_file");

	return (m != NULL && *m != '\0') || (w != NULL && *w != '\0');
}

/* A new master key, then the domains' files from it. */
static int
keygen(struct cli *c, int force)
{
	const char *path = gh_conf_str(c->conf, "tokens", "key_file");
	struct gh_token_key master;
	struct key_reader r;
	char hex[2 * 32 + 2];
	int rc;

	if (!force && access(path, F_OK) == 0) {
		cli_eprintf("%s: %s exists; use --force to replace it (links "
		            "signed with it stop working unless it becomes "
		            "previous_key_file)\n", c->prog, path);
		return EXIT_USAGE;
	}
	memset(&master, 0, sizeof(master));
	if (RAND_bytes(master.k, 32) != 1)
		return cli_fail(c, GH_EIO, "no randomness", NULL);
	master.len = 32;
	gh_hex_encode(master.k, master.len, hex, sizeof(hex) - 1);
	strcat(hex, "\n");
	key_reader(c, "owner", path, "the core (the store's owner)", &r);
	rc = write_key_file(c, path, hex, &r);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc == EXIT_OK && has_domain_files(c)) {
		rc = write_domain_files(c, &master);
		if (rc != EXIT_OK)
			cli_eprintf("%s: the new master key is written; once that "
			            "is fixed, 'gatehouse tokens derive' writes the "
			            "domains' files from it\n", c->prog);
	}
	OPENSSL_cleanse(&master, sizeof(master));
	return rc;
}

/* The domains' files again from the master there is: after setting
 * mail_key_file or web_key_file, or the owners, on a host with a key. */
static int
derive_files(struct cli *c)
{
	const char *path = gh_conf_str(c->conf, "tokens", "key_file");
	struct gh_token_key master;
	char detail[512];
	int rc;
	gh_err err;

	if (!has_domain_files(c)) {
		cli_eprintf("%s: tokens derive: set [tokens] mail_key_file or "
		            "web_key_file first\n", c->prog);
		return EXIT_CONFIG;
	}
	err = gh_token_key_load(path, &master, detail, sizeof(detail));
	if (err) {
		cli_eprintf("%s: %s\n", c->prog, detail);
		return err == GH_ENOTFOUND ? EXIT_NOINPUT : EXIT_CONFIG;
	}
	if (master.len == 0) {
		OPENSSL_cleanse(&master, sizeof(master));
		cli_eprintf("%s: [tokens] key_file %s is not a master key (a "
		            "purpose key file cannot make the others)\n", c->prog,
		            path);
		return EXIT_CONFIG;
	}
	rc = write_domain_files(c, &master);
	OPENSSL_cleanse(&master, sizeof(master));
	return rc;
}

static int
load_keys(struct cli *c, struct gh_token_key *keys, size_t *n)
{
	const char *prev = gh_conf_str(c->conf, "tokens", "previous_key_file");
	char detail[512];
	gh_err err;

	*n = 0;
	err = gh_token_key_load(gh_conf_str(c->conf, "tokens", "key_file"),
	                        &keys[0], detail, sizeof(detail));
	if (err) {
		cli_eprintf("%s: %s\n", c->prog, detail);
		return err == GH_ENOTFOUND ? EXIT_NOINPUT : EXIT_CONFIG;
	}
	*n = 1;
	/* key_file may be a domain's purpose key file (to check what it
	 * holds): its .previous lines are then the previous key */
	if (keys[0].len == 0)
		err = gh_token_key_load_previous(gh_conf_str(c->conf, "tokens",
		                                             "key_file"),
		                                 &keys[1], detail, sizeof(detail));
	else
		err = prev ? gh_token_key_load(prev, &keys[1], detail,
		                               sizeof(detail)) : GH_ENOTFOUND;
	if (err == GH_OK)
		*n = 2;
	return EXIT_OK;
}

/* A piece of a URL we print as given: printable ASCII without spaces, and
 * none of the characters that would end the path (query, fragment). */
static int
url_part_ok(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '?' || *s == '#' ||
		    *s == '"' || *s == '<' || *s == '>' || *s == '\\')
			return 0;
	return 1;
}

/*
 * The whole download link when [tokens] base_url is set:
 * BASE_URL + DOWNLOAD_PATH + ID + "?t=" + TOKEN, where the module's
 * location (gatehouse_download, docs/nginx.md) takes ID from the last path
 * segment.  *done is 0 when base_url is unset (the caller prints the token
 * alone, as before).  Returns EXIT_OK or an exit code with the reason on
 * standard error.
 */
static int
print_download_link(struct cli *c, const char *id, const char *tok, int *done)
{
	const char *base = gh_conf_str(c->conf, "tokens", "base_url");
	const char *path = gh_conf_str(c->conf, "tokens", "download_path");
	size_t blen, plen, idlen = strlen(id);
	const char *host;

	*done = 0;
	if (base == NULL || *base == '\0')
		return EXIT_OK;
	if (strncmp(base, "https://", 8) == 0)
		host = base + 8;
	else if (strncmp(base, "http://", 7) == 0)
		host = base + 7;
	else
		host = NULL;
	if (host == NULL || *host == '\0' || *host == '/' ||
	    !url_part_ok(base)) {
		cli_eprintf("%s: [tokens] base_url '%s' is not an http:// or "
		            "https:// URL without query or fragment (e.g. "
		            "https://files.example.org)\n", c->prog, base);
		return EXIT_CONFIG;
	}
	if (path == NULL || *path == '\0')
		path = "/dl/";
	if (path[0] != '/' || !url_part_ok(path)) {
		cli_eprintf("%s: [tokens] download_path '%s' is not a path "
		            "beginning with / (e.g. /dl/)\n", c->prog, path);
		return EXIT_CONFIG;
	}
	/* the module reads the upload id from the last path segment */
	if (idlen == 0 || idlen > 18 || id[0] == '0' ||
	    strspn(id, "0123456789") != idlen)
		return cli_usage(c, "tokens make download: '%s' is not an "
		                 "upload id (a decimal number), which a link "
		                 "needs", id);
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	plen = strlen(path);
	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	/* path[0..plen) is "/" or "/dl": one slash before the id either way */
	cli_printf("%.*s%.*s/%s?t=%s\n", (int)blen, base,
	           plen == 1 ? 0 : (int)plen, path, id, tok);
	*done = 1;
	return EXIT_OK;
}

static int
purpose_of(const char *s, enum gh_token_purpose *p)
{
	if (strcmp(s, "unsubscribe") == 0)
		*p = GH_TOKEN_UNSUBSCRIBE;
	else if (strcmp(s, "download") == 0)
		*p = GH_TOKEN_DOWNLOAD;
	else
		return -1;
	return 0;
}

int
cmd_tokens(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"force", no_argument, NULL, 'f'},
		{"ttl", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}
	};
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct gh_token_key keys[2];
	struct gh_token t;
	enum gh_token_purpose purpose;
	char tok[GH_TOKEN_LEN_MAX];
	long long ttl = -1;
	size_t nkeys;
	int ch, force = 0, rc;
	gh_err err;

	if (sub == NULL)
		return cli_usage(c, "tokens: expected keygen, derive, make or "
		                 "check");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		case 't':
			if (gh_parse_duration_ms(optarg, &ttl) || ttl <= 0)
				return cli_usage(c, "bad --ttl '%s'", optarg);
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "tokens %s: unknown option", sub);
		}
	}
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	if ((strcmp(sub, "keygen") == 0 || strcmp(sub, "derive") == 0) &&
	    optind < argc)
		return cli_usage(c, "tokens %s: unexpected '%s'", sub,
		                 argv[optind]);
	if (strcmp(sub, "keygen") == 0)
		return keygen(c, force);
	if (strcmp(sub, "derive") == 0)
		return derive_files(c);
	rc = load_keys(c, keys, &nkeys);
	if (rc)
		return rc;
	if (strcmp(sub, "make") == 0) {
		/* make unsubscribe RCPT LIST | make download ID [USER] */
		int nargs = argc - optind;

		if (nargs < 2 || purpose_of(argv[optind], &purpose) ||
		    nargs > 1 + GH_TOKEN_FIELDS_MAX)
			return cli_usage(c, "tokens make: expected 'unsubscribe "
			                 "RECIPIENT LIST' or 'download ID [USER]'");
		memset(&t, 0, sizeof(t));
		t.purpose = purpose;
		if (ttl < 0)
			ttl = gh_conf_int(c->conf, "tokens",
			                  purpose == GH_TOKEN_UNSUBSCRIBE ?
			                  "unsubscribe_ttl" : "download_ttl");
		t.expires = gh_now_ms() / 1000 + ttl / 1000;
		for (int i = 1; i < nargs; i++) {
			if (strlen(argv[optind + i]) > GH_TOKEN_FIELD_MAX)
				return cli_usage(c, "tokens make: '%s' is too long",
				                 argv[optind + i]);
			strcpy(t.field[t.nfields++], argv[optind + i]);
		}
		err = gh_token_make(&keys[0], &t, tok, sizeof(tok));
		OPENSSL_cleanse(keys, sizeof(keys));
		if (err == GH_EACCES) {
			cli_eprintf("%s: tokens make: %s has no %s key\n", c->prog,
			            gh_conf_str(c->conf, "tokens", "key_file"),
			            argv[optind]);
			return EXIT_NOPERM;
		}
		if (err)
			return cli_fail(c, err, "tokens make", NULL);
		if (purpose == GH_TOKEN_DOWNLOAD) {
			int done;

			rc = print_download_link(c, argv[optind + 1], tok, &done);
			if (rc != EXIT_OK || done)
				return rc;
		}
		cli_printf("%s\n", tok);
		return EXIT_OK;
	}
	if (strcmp(sub, "check") == 0) {
		if (argc - optind != 2 || purpose_of(argv[optind], &purpose))
			return cli_usage(c, "tokens check: expected 'unsubscribe "
			                 "TOKEN' or 'download TOKEN'");
		err = gh_token_check(keys, nkeys, purpose, argv[optind + 1],
		                     strlen(argv[optind + 1]), gh_now_ms() / 1000,
		                     &t);
		OPENSSL_cleanse(keys, sizeof(keys));
		if (err != GH_OK && err != GH_EEXPIRED) {
			cli_eprintf("%s: not a valid %s token: %s\n", c->prog,
			            argv[optind], err == GH_EACCES ?
			            "signature does not match (another key or purpose, "
			            "or altered)" : "malformed");
			return EXIT_DATAERR;
		}
		if (c->json) {
			json_t *f = json_array(), *j;

			for (size_t i = 0; i < t.nfields; i++)
				json_array_append_new(f, json_string(t.field[i]));
			j = json_pack("{s:s, s:I, s:o, s:b}", "purpose", argv[optind],
			              "expires", (json_int_t)t.expires, "fields", f,
			              "expired", err == GH_EEXPIRED);
			cli_print_json(j);
			json_decref(j);
		} else {
			char when[32];

			cli_printf("%s token, %s %s\n", argv[optind],
			           err == GH_EEXPIRED ? "expired" : "expires",
			           cli_time(t.expires * 1000, when, sizeof(when)));
			for (size_t i = 0; i < t.nfields; i++)
				cli_printf("  %s\n", t.field[i]);
		}
		return err == GH_EEXPIRED ? EXIT_DATAERR : EXIT_OK;
	}
	return cli_usage(c, "tokens: unknown subcommand '%s'", sub);
}
