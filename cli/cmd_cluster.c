/*
 * cmd_cluster.c - `gatehouse cluster status`: the multi-host mode as the
 * NATS JetStream cluster sees it (docs/cluster.md): the servers and the
 * one connected to, the streams (messages, bytes, replicas, leader), the
 * consumers (pending, ack pending, redelivered), each host's bridges from
 * their heartbeats (backlog, lag, last seen) and the KV buckets with
 * their revisions.
 *
 * It connects with the core's credentials ([nats] credentials or
 * nkey_seed with %d = core).  Run as root, it first becomes the owner of
 * the core store, like every command that reads the core's files, so it
 * reads the credentials as notifyd does (docs/security.md, rule 2); on a
 * machine without a core store it stays who it is.
 *
 * `gatehouse cluster nkey --out FILE [--owner USER]` makes a domain's
 * user NKey (Debian has no nk or nsc): the seed into FILE, for [nats]
 * nkey_seed, the public key on stdout, for the server's `nkey:` line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "gatehouse/file.h"
#include "ghc.h"

#define STATUS_HOSTS_MAX 1024

static void
nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static json_t *
stream_json(const jsStreamInfo *si)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s?}",
	                 "name", si->Config->Name,
	                 "messages", (json_int_t)si->State.Msgs,
	                 "bytes", (json_int_t)si->State.Bytes,
	                 "first_seq", (json_int_t)si->State.FirstSeq,
	                 "last_seq", (json_int_t)si->State.LastSeq,
	                 "replicas", (json_int_t)si->Config->Replicas,
	                 "leader", si->Cluster && si->Cluster->Leader ?
	                 si->Cluster->Leader : NULL);
}

/* The hosts' heartbeats (ghc_hosts_read); none if the bucket cannot be
 * read (no bridge has sent one yet, or notifyd has not made it). */
static json_t *
hosts_json(struct ghc *g)
{
	json_t *arr = json_array();
	struct ghc_host *h = calloc(STATUS_HOSTS_MAX, sizeof(*h));
	char why[256];
	size_t n = 0;
	int64_t now = gh_now_ms();

	if (arr == NULL || h == NULL ||
	    ghc_hosts_read(g, h, STATUS_HOSTS_MAX, 0, &n, why,
	                   sizeof(why)) != GH_OK)
		n = 0;
	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, json_pack(
		    "{s:s, s:s, s:I, s:f, s:I, s:I, s:f, s:I}",
		    "host", h[i].host, "domain", h[i].domain,
		    "backlog", (json_int_t)h[i].backlog,
		    "lag_seconds", (double)h[i].oldest_ms / 1000.0,
		    "published", (json_int_t)h[i].published,
		    "last_publish", (json_int_t)h[i].last_publish,
		    "last_seen_seconds", (double)(now - h[i].at) / 1000.0,
		    "revision", (json_int_t)h[i].revision));
	free(h);
	return arr;
}

static int
status(struct cli *c)
{
	struct ghc *g = NULL;
	const struct ghc_opts *o;
	jsStreamInfoList *streams = NULL;
	jsConsumerInfoList *cons = NULL;
	json_t *out = NULL, *sarr, *carr, *barr, *hosts;
	char detail[1024], url[256], kvprefix[GHC_TOKEN_MAX + 8];
	int rc = EXIT_OK;
	gh_err err;

	if (!ghc_enabled(c->conf)) {
		cli_eprintf("gatehouse: cluster: [nats] servers is not set: this "
		            "host runs alone (docs/cluster.md)\n");
		return EXIT_CONFIG;
	}
	if (geteuid() == 0) {
		err = gh_store_become_owner(gh_conf_str(c->conf, "store", "path"),
		                            detail, sizeof(detail));
		if (err && err != GH_ENOTFOUND)
			return cli_fail(c, err, "cluster", detail);
	}
	err = ghc_open(c->conf, GH_DOMAIN_CORE, &g, detail, sizeof(detail));
	if (err)
		return cli_fail(c, err, "cluster", detail);
	o = ghc_opts(g);
	for (int64_t waited = 0; !ghc_connected(g) &&
	     waited < o->connect_timeout_ms; waited += 50)
		nap_ms(50);
	if (!ghc_connected(g)) {
		char last[400];

		ghc_last_error(g, last, sizeof(last));
		cli_eprintf("gatehouse: cluster: no server of [nats] servers "
		            "answered within %lld ms%s%s (are they running, and "
		            "does the core's NATS user exist there?)\n",
		            (long long)o->connect_timeout_ms,
		            last[0] ? "; last error: " : "", last);
		rc = EXIT_TEMPFAIL;
		goto cleanup;
	}
	ghc_url(g, url, sizeof(url));
	snprintf(kvprefix, sizeof(kvprefix), "KV_%s_", o->prefix);
	out = json_pack("{s:s, s:s, s:s, s:s}", "servers",
	                gh_conf_str(c->conf, "nats", "servers"), "connected_url",
	                url, "host", o->host, "subject_prefix", o->prefix);
	sarr = json_array();
	carr = json_array();
	barr = json_array();
	json_object_set_new(out, "streams", sarr);
	json_object_set_new(out, "consumers", carr);
	json_object_set_new(out, "buckets", barr);
	if (js_Streams(&streams, ghc_js(g), NULL, NULL) == NATS_OK) {
		for (int i = 0; i < streams->Count; i++) {
			const jsStreamInfo *si = streams->List[i];
			const char *name = si->Config->Name;

			if (strncmp(name, kvprefix, strlen(kvprefix)) == 0) {
				json_array_append_new(barr, json_pack(
				    "{s:s, s:I, s:I, s:I, s:s?}", "bucket",
				    name + 3, "values", (json_int_t)si->State.Msgs,
				    "revision", (json_int_t)si->State.LastSeq,
				    "replicas", (json_int_t)si->Config->Replicas,
				    "leader", si->Cluster && si->Cluster->Leader ?
				    si->Cluster->Leader : NULL));
				continue;
			}
			if (strncmp(name, o->stream, strlen(o->stream)) != 0)
				continue;   /* not ours */
			json_array_append_new(sarr, stream_json(si));
			if (js_Consumers(&cons, ghc_js(g), name, NULL, NULL) !=
			    NATS_OK)
				continue;
			for (int k = 0; k < cons->Count; k++) {
				const jsConsumerInfo *ci = cons->List[k];

				json_array_append_new(carr, json_pack(
				    "{s:s, s:s, s:I, s:I, s:I, s:I}", "stream", name,
				    "name", ci->Name, "pending",
				    (json_int_t)ci->NumPending, "ack_pending",
				    (json_int_t)ci->NumAckPending, "redelivered",
				    (json_int_t)ci->NumRedelivered, "waiting",
				    (json_int_t)ci->NumWaiting));
			}
			jsConsumerInfoList_Destroy(cons);
			cons = NULL;
		}
	}
	hosts = hosts_json(g);
	json_object_set_new(out, "hosts", hosts);
	if (c->json) {
		cli_print_json(out);
		goto cleanup;
	}
	{
		size_t i;
		json_t *e;

		cli_printf("servers:   %s\nconnected: %s\nthis host: %s\n",
		           gh_conf_str(c->conf, "nats", "servers"), url, o->host);
		cli_printf("\nstreams:\n");
		json_array_foreach(sarr, i, e)
			cli_printf("  %-28s %8lld messages %10lld bytes  %lld "
			           "replicas  leader %s\n",
			           json_string_value(json_object_get(e, "name")),
			           json_integer_value(json_object_get(e, "messages")),
			           json_integer_value(json_object_get(e, "bytes")),
			           json_integer_value(json_object_get(e, "replicas")),
			           json_string_value(json_object_get(e, "leader")) ?
			           json_string_value(json_object_get(e, "leader")) :
			           "-");
		cli_printf("\nconsumers:\n");
		json_array_foreach(carr, i, e)
			cli_printf("  %s/%s: %lld pending, %lld ack pending, %lld "
			           "redelivered\n",
			           json_string_value(json_object_get(e, "stream")),
			           json_string_value(json_object_get(e, "name")),
			           json_integer_value(json_object_get(e, "pending")),
			           json_integer_value(json_object_get(e,
			                                              "ack_pending")),
			           json_integer_value(json_object_get(e,
			                                              "redelivered")));
		cli_printf("\nhosts:\n");
		json_array_foreach(hosts, i, e)
			cli_printf("  %-20s %-6s backlog %lld, lag %.1f s, "
			           "published %lld, last seen %.1f s ago\n",
			           json_string_value(json_object_get(e, "host")),
			           json_string_value(json_object_get(e, "domain")),
			           json_integer_value(json_object_get(e, "backlog")),
			           json_real_value(json_object_get(e, "lag_seconds")),
			           json_integer_value(json_object_get(e, "published")),
			           json_real_value(json_object_get(e,
			                           "last_seen_seconds")));
		cli_printf("\nbuckets:\n");
		json_array_foreach(barr, i, e)
			cli_printf("  %-28s %8lld values  revision %lld\n",
			           json_string_value(json_object_get(e, "bucket")),
			           json_integer_value(json_object_get(e, "values")),
			           json_integer_value(json_object_get(e, "revision")));
	}
cleanup:
	json_decref(out);
	jsStreamInfoList_Destroy(streams);
	ghc_close(g);
	return rc;
}

/* The directory --out is made in: nobody but root and us may change its
 * entries, or the name could be swapped between our create and a cleanup
 * unlink (which would then remove someone else's file), or the key moved
 * away.  0 if it is safe; else the error said. */
static int
nkey_dir_ok(struct cli *c, const char *out)
{
	char dir[4096];
	const char *slash = strrchr(out, '/');
	struct stat st;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == out)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - out) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - out), out);
	else {
		cli_eprintf("%s: cluster nkey: %.64s...: path too long\n",
		            c->prog, out);
		return EXIT_USAGE;
	}
	if (stat(dir, &st) != 0) {
		cli_eprintf("%s: cluster nkey: %s: %s\n", c->prog, dir,
		            strerror(errno));
		return errno == EACCES ? EXIT_NOPERM : EXIT_NOINPUT;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		cli_eprintf("%s: cluster nkey: %s: the directory is writable by "
		            "others (or not owned by root or you): make the key "
		            "in a directory only root or you can change\n",
		            c->prog, dir);
		return EXIT_NOPERM;
	}
	return 0;
}

/*
 * The seed goes straight into a new file: O_EXCL, so an existing key (or
 * anything planted at the name) is never overwritten or followed, and the
 * file is 0600 and its owner's before it holds anything ([nats] refuses a
 * seed file others may read, or one not its reader's).  A failure after
 * the create removes the file: no half a key left behind; by name, which
 * is safe as nkey_dir_ok() let only a directory no one else can change.
 */
static int
nkey(struct cli *c, const char *out, const char *owner)
{
	char seed[64], pub[64], line[sizeof(seed) + 1];
	struct passwd *pw = NULL;
	int fd = -1, rc = EXIT_OK, made = 0;
	gh_err err;

	if (owner != NULL && (pw = getpwnam(owner)) == NULL) {
		cli_eprintf("%s: cluster nkey: no user %s\n", c->prog, owner);
		return EXIT_NOUSER;
	}
	if ((rc = nkey_dir_ok(c, out)) != 0)
		return rc;
	err = ghc_nkey_make(seed, sizeof(seed), pub, sizeof(pub));
	if (err)
		return cli_fail(c, err, "cluster nkey", "making an Ed25519 key");
	snprintf(line, sizeof(line), "%s\n", seed);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		cli_eprintf("%s: cluster nkey: %s: %s%s\n", c->prog, out,
		            strerror(errno), errno == EEXIST ?
		            " (remove it first to make a new key)" : "");
		rc = errno == EACCES || errno == EPERM ? EXIT_NOPERM :
		     errno == EEXIST ? EXIT_CONFIG : EXIT_IOERR;
		goto cleanup;
	}
	made = 1;
	if (pw != NULL && fchown(fd, pw->pw_uid, pw->pw_gid) != 0) {
		cli_eprintf("%s: cluster nkey: cannot give %s to %s: %s%s\n",
		            c->prog, out, pw->pw_name, strerror(errno),
		            errno == EPERM ? " (run it as root)" : "");
		rc = errno == EPERM ? EXIT_NOPERM : EXIT_IOERR;
		goto cleanup;
	}
	if (fchmod(fd, 0600) != 0 ||
	    gh_file_write_all(fd, line, strlen(line)) != GH_OK ||
	    fsync(fd) != 0) {
		cli_eprintf("%s: cluster nkey: %s: %s\n", c->prog, out,
		            strerror(errno));
		rc = errno == EPERM ? EXIT_NOPERM : EXIT_IOERR;
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		cli_eprintf("%s: cluster nkey: %s: %s\n", c->prog, out,
		            strerror(errno));
		rc = EXIT_IOERR;
		goto cleanup;
	}
	fd = -1;
	made = 0;
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s, s:s?}", "public_key", pub,
		                      "seed_file", out, "owner", owner);

		cli_print_json(j);
		json_decref(j);
	} else {
		cli_printf("%s\n", pub);
	}
cleanup:
	if (fd >= 0)
		close(fd);
	if (made)
		(void)unlink(out);
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

static int
cmd_nkey(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"out", required_argument, NULL, 'o'},
		{"owner", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	const char *out = NULL, *owner = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'u':
			owner = optarg;
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return cli_usage(c, "cluster nkey: unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "cluster nkey: unexpected argument");
	if (out == NULL || *out == '\0')
		return cli_usage(c, "cluster nkey: --out FILE is required");
	if (owner != NULL && *owner == '\0')
		return cli_usage(c, "cluster nkey: --owner is empty");
	return nkey(c, out, owner);
}

int
cmd_cluster(struct cli *c, int argc, char **argv)
{
	static const struct option o[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int ch, rc;

	if (sub != NULL && strcmp(sub, "nkey") == 0)
		return cmd_nkey(c, argc - 1, argv + 1);   /* needs no [nats] */
	if (sub == NULL || strcmp(sub, "status") != 0)
		return cli_usage(c, "cluster: expected 'status' or 'nkey'");
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", o, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage(c, "cluster status: unknown option");
		c->json = 1;
	}
	if (optind < argc - 1)
		return cli_usage(c, "cluster status: unexpected argument");
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	return status(c);
}
