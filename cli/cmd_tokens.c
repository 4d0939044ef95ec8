/*
 * cmd_tokens.c - `gatehouse tokens keygen|make|check`: the master key and
 * the signed links of docs/tokens.md, from the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gatehouse/codec.h"
#include "gatehouse/token.h"
#include "cli.h"

/* Write the key to a temporary file in the same directory, then rename:
 * a reader never sees half a key. */
static int
keygen(struct cli *c, int force)
{
	const char *path = gh_conf_str(c->conf, "tokens", "key_file");
	unsigned char key[32];
	char hex[65], tmp[PATH_MAX];
	int fd, rc = EXIT_OK;

	if (!force && access(path, F_OK) == 0) {
		cli_eprintf("%s: %s exists; use --force to replace it (links "
		            "signed with it stop working unless it becomes "
		            "previous_key_file)\n", c->prog, path);
		return EXIT_USAGE;
	}
	if (RAND_bytes(key, sizeof(key)) != 1)
		return cli_fail(c, GH_EIO, "no randomness", NULL);
	gh_hex_encode(key, sizeof(key), hex, sizeof(hex));
	OPENSSL_cleanse(key, sizeof(key));
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return cli_fail(c, GH_ETOOBIG, path, NULL);
	fd = mkstemp(tmp);
	if (fd < 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		return EXIT_IOERR;
	}
	if (fchmod(fd, 0640) != 0 || write(fd, hex, 64) != 64 ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, tmp, strerror(errno));
		rc = EXIT_IOERR;
	}
	close(fd);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc == EXIT_OK && rename(tmp, path) != 0) {
		cli_eprintf("%s: %s: %s\n", c->prog, path, strerror(errno));
		rc = EXIT_IOERR;
	}
	if (rc != EXIT_OK)
		unlink(tmp);
	else
		cli_printf("wrote %s\n", path);
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
	if (prev && gh_token_key_load(prev, &keys[1], detail, sizeof(detail)) ==
	    GH_OK)
		*n = 2;
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
		return cli_usage(c, "tokens: expected keygen, make or check");
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
	if (strcmp(sub, "keygen") == 0)
		return keygen(c, force);
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
		if (err)
			return cli_fail(c, err, "tokens make", NULL);
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
