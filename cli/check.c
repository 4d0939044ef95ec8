/*
 * check.c - `gatehouse config check [--as-service] [--only LIST]
 * [--pam-dir DIR]`: the configuration checked by every part's own code.
 *
 * Nothing here judges a setting itself: each part's check is the code
 * that part runs at start, linked in (cli.mk):
 *   milter   gm_mboot_parse and gm_mcfg_parse (milter/mconf.c): socket,
 *            its mode and group, the user, internal_hosts, DKIM keys and
 *            selectors, header lists, the token key for List-Unsubscribe,
 *            the virus database's directory (the engine itself is loaded
 *            by `gatehouse-milter -t` only: seconds and a gigabyte)
 *   notifyd  nd_check_conf (notifyd/check.c): channels, routes, channel
 *            lists, templates, time zones
 *   tokens   gh_token_verifier_keys, as nginx loads its keys, and every
 *            key file [tokens] names
 *   pam      gp_opts_parse (pam_notify/options.c) on every
 *            pam_gatehouse.so line under /etc/pam.d, and the writer
 *            program it execs (gh_file_open_program, as the module)
 *   store    each configured store is there
 *   nats     ghc_check (cluster/ghc.h): [nats] options, and the secret
 *            file of the core and each domain with a store here (looked
 *            at, not opened)
 *
 * With --as-service (root only), each daemon's files are then opened, read
 * only, by a child that became that daemon's user, the way the daemon
 * becomes it: the milter's [milter] user and nginx's worker user with
 * their groups, the store owners (notifyd, the bridges, PAM's writer)
 * without.  A store is looked at with gh_store_check, never opened: LMDB
 * is not for another uid's environment.  The child reports over a pipe
 * and exits; what it reports is printed here, so --json has it too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* the parts' own checks, before cli.h poisons the plain printers */
#include "../milter/mcfg.h"
#include "../notifyd/check.h"
#include "../pam_notify/options.h"
#include "gatehouse/file.h"
#include "gatehouse/token.h"
#include "gatehouse/users.h"
#include "ghc.h"
#include "cli.h"

#define CHECK_PAM_DIR "/etc/pam.d"
#define CHECK_MSG_MAX 1024
#define CHECK_CHILD_SECONDS 60

enum { PART_MILTER = 1, PART_NOTIFYD = 2, PART_TOKENS = 4, PART_PAM = 8,
       PART_STORE = 16, PART_NGINX = 32, PART_BRIDGE = 64, PART_NATS = 128,
       PART_ALL = 255 };

static const struct {
	const char *name;
	unsigned bit;
} parts[] = {
	{"milter", PART_MILTER}, {"notifyd", PART_NOTIFYD},
	{"tokens", PART_TOKENS}, {"pam", PART_PAM}, {"store", PART_STORE},
	{"nginx", PART_NGINX}, {"bridge", PART_BRIDGE}, {"nats", PART_NATS},
};

struct chk {
	struct cli *c;
	unsigned only;          /* PART_* to check */
	const char *pam_dir;
	json_t *problems;       /* --json: the list printed at the end */
	int n;                  /* problems */
	int denied;             /* of which permission denied */
	int out_fd;             /* in a service child: the pipe; else -1 */
	const char *as;         /* in a service child: the user */
};

/* Report one problem of part (in a child: down the pipe, as a line
 * "DENIED<TAB>PART<TAB>MESSAGE"). */
__attribute__((format(__printf__, 4, 5)))
static void
problem(struct chk *k, const char *part, int denied, const char *fmt, ...)
{
	char msg[CHECK_MSG_MAX], line[CHECK_MSG_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line each, whatever a path or a detail held */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	k->n++;
	k->denied += denied != 0;
	if (k->out_fd >= 0) {
		n = snprintf(line, sizeof(line), "%d\t%s\t%s\n", denied != 0,
		             part, msg);
		if (n > 0 && write(k->out_fd, line, (size_t)n) < 0) {
			/* the parent is gone: nobody to tell */
		}
		return;
	}
	if (k->problems)
		json_array_append_new(k->problems, json_pack("{s:s, s:s, s:b}",
		    "part", part, "message", msg, "permission_denied", denied));
	else
		cli_eprintf("%s: %s: %s\n", k->c->prog, part, msg);
}

/* ---- the parts' own checks ---- */

static void
check_milter(struct chk *k, const struct gh_conf *conf)
{
	struct gm_mboot mb;
	struct gm_mcfg m;
	char detail[1024];

	/* The others start on the defaults when the default file is
	 * missing; the milter does not start at all. */
	if (k->c->conf_defaults)
		problem(k, "milter", 0, "%s: no such file: gatehouse-milter "
		        "does not start without it", k->c->conf_path);
	if (gm_mboot_parse(conf, 1, &mb, detail, sizeof(detail)) != 0)
		problem(k, "milter", 0, "%s", detail);
	memset(&m, 0, sizeof(m));
	m.conf = (struct gh_conf *)(uintptr_t)conf;   /* read only */
	if (gm_mcfg_parse(&m, detail, sizeof(detail)) != GH_OK)
		problem(k, "milter", 0, "%s", detail);
	gm_mcfg_clear(&m);
}

static void
check_notifyd(struct chk *k, const struct gh_conf *conf)
{
	struct nd_log log;
	char detail[1024];
	gh_err err;

	memset(&log, 0, sizeof(log));
	/* its warnings as it would log them, errors as problems */
	nd_log_init(&log, "stderr", "warning");
	err = nd_check_conf(&log, conf, NULL, detail, sizeof(detail));
	if (err)
		problem(k, "notifyd", err == GH_EACCES, "%s%s%s",
		        gh_strerror(err), detail[0] ? ": " : "", detail);
}

/* A key file [tokens] names, worth loading: written in the file, or the
 * default one when it is there (tokens may not be in use at all). */
static const char *
key_path(const struct gh_conf *conf, const char *key)
{
	const char *path = gh_conf_str(conf, "tokens", key);

	if (path == NULL || *path == '\0')
		return NULL;
	if (!gh_conf_is_set(conf, "tokens", key) && access(path, F_OK) != 0 &&
	    errno == ENOENT)
		return NULL;
	return path;
}

static void
load_key(struct chk *k, const char *part, const struct gh_conf *conf,
         const char *key)
{
	struct gh_token_key tk;
	const char *path = key_path(conf, key);
	char detail[512];
	gh_err err;

	if (path == NULL)
		return;
	err = gh_token_key_load(path, &tk, detail, sizeof(detail));
	OPENSSL_cleanse(&tk, sizeof(tk));
	if (err)
		problem(k, part, err == GH_EACCES, "[tokens] %s: %s", key,
		        detail);
}

/* nginx's keys, loaded as the module loads them (web_key_file, else the
 * masters); then the key files nginx does not read. */
static void
check_tokens(struct chk *k, const struct gh_conf *conf)
{
	const char *web = key_path(conf, "web_key_file");
	const char *master = key_path(conf, "key_file");
	struct gh_token_key keys[2];
	const char *which, *path;
	char detail[512];
	size_t n;
	gh_err err;

	if ((k->only & PART_NGINX) && (web != NULL || master != NULL)) {
		err = gh_token_verifier_keys(web, "web_key_file", master,
		                             key_path(conf, "previous_key_file"),
		                             keys, &n, &which, &path, detail,
		                             sizeof(detail));
		OPENSSL_cleanse(keys, sizeof(keys));
		if (err)
			problem(k, "nginx", err == GH_EACCES,
			        "[tokens] %s \"%s\": %s", which,
			        path ? path : "", detail);
	}
	if (!(k->only & PART_TOKENS))
		return;
	load_key(k, "tokens", conf, "mail_key_file");
	if (web != NULL || !(k->only & PART_NGINX)) {
		load_key(k, "tokens", conf, "key_file");
		load_key(k, "tokens", conf, "previous_key_file");
	}
}

/* ---- PAM: the arguments on each pam_gatehouse.so line ---- */

#define PAM_ARGS_MAX 64

/* Split a pam.d line into words ([...] is one word, as PAM reads it). */
static int
pam_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (*p == '[') {
			w[n++] = p;
			p = strchr(p, ']');
			if (p == NULL)
				break;
			p++;
		} else {
			w[n++] = p;
			p += strcspn(p, " \t");
		}
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void
check_pam_file(struct chk *k, const char *path)
{
	char line[2048], detail[512];
	unsigned lineno = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		if (errno != ENOENT)
			problem(k, "pam", errno == EACCES, "%s: %s", path,
			        strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *w[PAM_ARGS_MAX + 3];
		const char *mod, *base;
		struct gp_opts o;
		int n, first;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		n = pam_words(line, w, PAM_ARGS_MAX + 3);
		if (n < 3 || w[0][0] == '@')
			continue;
		mod = w[2];
		base = strrchr(mod, '/');
		base = base ? base + 1 : mod;
		if (strcmp(base, "pam_gatehouse.so") != 0)
			continue;
		first = 3;
		gp_opts_init(&o);
		if (gp_opts_parse(&o, n - first, (const char **)(w + first),
		                      detail, sizeof(detail)) > 0)
			problem(k, "pam", 0, "%s:%u: pam_gatehouse.so: %s "
			        "(ignored by the module, which keeps its "
			        "default)", path, lineno, detail);
		if (o.mode != GH_PAM_MODE_INLINE) {
			int wfd = -1;

			(void)gh_file_open_program(o.writer, &wfd, detail,
			                           sizeof(detail));

			/* what the module's child checks before its exec:
			 * refused, no login on this line is recorded */
			if (wfd < 0)
				problem(k, "pam", 0, "%s:%u: pam_gatehouse.so "
				        "writer: %s (logins are not recorded)",
				        path, lineno, detail);
			else
				close(wfd);
		}
		if (o.config != NULL) {
			struct gh_conf *other = NULL;
			char d2[1024];

			if (gh_conf_load(&other, o.config, d2, sizeof(d2)))
				problem(k, "pam", 0, "%s:%u: config=%s: %s", path,
				        lineno, o.config, d2);
			gh_conf_free(other);
		}
	}
	fclose(fp);
}

static void
check_pam(struct chk *k)
{
	struct dirent *de;
	DIR *d = opendir(k->pam_dir);

	if (d == NULL) {
		if (errno != ENOENT || strcmp(k->pam_dir, CHECK_PAM_DIR) != 0)
			problem(k, "pam", errno == EACCES, "%s: %s", k->pam_dir,
			        strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];

		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", k->pam_dir,
		             de->d_name) >= (int)sizeof(path))
			continue;
		check_pam_file(k, path);
	}
	closedir(d);
}

/* ---- stores ---- */

static void
check_stores(struct chk *k, const struct gh_conf *conf)
{
	for (int dom = 0; dom < GH_DOMAIN_COUNT_; dom++) {
		struct gh_store_opts o;
		const char *want;
		char detail[1024];
		uid_t uid;
		int shared = 0;
		gh_err err;

		gh_conf_domain_store_opts(conf, (enum gh_domain)dom, &o,
		                          &shared);
		if (dom != GH_DOMAIN_CORE && shared)
			continue;
		err = gh_store_owner(o.path, &uid, NULL, detail, sizeof(detail));
		if (err == GH_ENOTFOUND) {
			problem(k, "store", 0, "no %s store at %s (make it with "
			        "'gatehouse store init')",
			        gh_domain_name((enum gh_domain)dom), o.path);
			continue;
		}
		if (err) {
			problem(k, "store", err == GH_EACCES, "the %s store: %s",
			        gh_domain_name((enum gh_domain)dom), detail);
			continue;
		}
		want = gh_conf_domain_owner(conf, (enum gh_domain)dom);
		if (want != NULL && *want != '\0') {
			struct passwd *pw = getpwnam(want);

			if (pw == NULL)
				problem(k, "store", 0, "[store] %s%sowner: no user "
				        "'%s'", dom == GH_DOMAIN_CORE ? "" :
				        gh_domain_name((enum gh_domain)dom),
				        dom == GH_DOMAIN_CORE ? "" : "_", want);
			else if (pw->pw_uid != uid)
				problem(k, "store", 0, "%s is uid %ld's, not %s's "
				        "(the configured owner)", o.path, (long)uid,
				        want);
		}
	}
}

/* ---- as each daemon's user ---- */

/* Open path read-only (a directory: list it; want_write: also writable)
 * and say what stood in the way.  A missing file is fine unless must. */
static int
try_open(struct chk *k, const char *part, const char *path, int dir,
         int want_write, int must)
{
	int fd, e;

	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	          (dir ? O_DIRECTORY : 0));
	if (fd >= 0) {
		close(fd);
		if (!want_write || access(path, W_OK | X_OK) == 0)
			return 0;
	}
	e = errno;
	if (e == ENOENT && !must)
		return 0;
	if (e == EACCES || e == EPERM)
		problem(k, part, 1, "permission denied: %s (as %s)", path, k->as);
	else
		problem(k, part, 0, "%s: %s (as %s)", path, strerror(e), k->as);
	return -1;
}

/* The store a daemon opens, looked at as that daemon (never opened). */
static void
try_store(struct chk *k, const char *part, const char *path)
{
	char detail[1024];
	gh_err err;

	if (try_open(k, part, path, 1, 0, 0) != 0)
		return;
	err = gh_store_check(path, detail, sizeof(detail));
	if (err && err != GH_ENOTFOUND)   /* a missing one: said already */
		problem(k, part, err == GH_EACCES, "the store %s: %s (as %s)",
		        path, detail, k->as);
}

/* Every DOMAIN/SELECTOR.key (and .retire) under the key directory, as
 * gm_signtable_load finds them. */
static void
try_key_dir(struct chk *k, const char *key_dir)
{
	struct dirent *de;
	DIR *d;

	if (try_open(k, "milter", key_dir, 1, 0, 0) != 0 ||
	    (d = opendir(key_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char sub[4096];
		struct dirent *f;
		DIR *dd;

		if (de->d_name[0] == '.' ||
		    snprintf(sub, sizeof(sub), "%s/%s", key_dir, de->d_name) >=
		    (int)sizeof(sub))
			continue;
		dd = opendir(sub);
		if (dd == NULL) {
			if (errno != ENOTDIR)
				try_open(k, "milter", sub, 1, 0, 0);
			continue;
		}
		while ((f = readdir(dd)) != NULL) {
			char path[4096 + 256];
			size_t n = strlen(f->d_name);

			if (f->d_name[0] == '.' ||
			    !((n > 4 && strcmp(f->d_name + n - 4, ".key") == 0) ||
			      (n > 7 && strcmp(f->d_name + n - 7, ".retire") == 0)))
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
			try_open(k, "milter", path, 0, 0, 1);
		}
		closedir(dd);
	}
	closedir(d);
}

struct dkim_sections {
	struct chk *k;
	const struct gh_conf *conf;
};

static void
dkim_section_file(const char *name, void *arg)
{
	struct dkim_sections *s = arg;

	try_open(s->k, "milter", gh_conf_str(s->conf, name, "key_file"), 0, 0,
	         1);
}

static void
as_milter(struct chk *k, const struct gh_conf *conf)
{
	struct dkim_sections ds = {k, conf};
	struct gh_store_opts so;
	struct gm_mcfg m;
	char detail[1024];
	int before = k->n;
	const char *url = gh_conf_str(conf, "milter", "unsubscribe_url");

	try_key_dir(k, gh_conf_str(conf, "dkim", "key_dir"));
	gh_conf_sections(conf, "dkim.", dkim_section_file, &ds);
	if (url != NULL && *url != '\0') {
		const char *key = gh_conf_str(conf, "tokens", "mail_key_file");

		if (key == NULL || *key == '\0')
			key = gh_conf_str(conf, "tokens", "key_file");
		try_open(k, "milter", key, 0, 0, 1);
	}
	if (gh_conf_bool(conf, "milter", "scan")) {
		const char *clamd = gh_conf_str(conf, "milter",
		                                "clamd_socket");

		/* with clamd, the signatures are clamd's to read */
		if (clamd == NULL || *clamd == '\0')
			try_open(k, "milter", gh_conf_str(conf, "milter",
			                                  "clamav_db"), 1, 0, 1);
		try_open(k, "milter", gh_conf_str(conf, "milter", "spool_dir"),
		         1, 1, 1);
		try_open(k, "milter", gh_conf_str(conf, "milter", "clamav_tmp"),
		         1, 1, 0);
	}
	/* then the milter's own loading, as the milter, for what the
	 * walk above cannot know */
	if (k->n == before) {
		memset(&m, 0, sizeof(m));
		m.conf = (struct gh_conf *)(uintptr_t)conf;
		if (gm_mcfg_parse(&m, detail, sizeof(detail)) != GH_OK)
			problem(k, "milter", 0, "%s (as %s)", detail, k->as);
		gm_mcfg_clear(&m);
	}
	gh_conf_domain_store_opts(conf, GH_DOMAIN_MAIL, &so, NULL);
	try_store(k, "milter", so.path);
}

struct chan_files {
	struct chk *k;
	const struct gh_conf *conf;
	const char *section;
};

static void
chan_path_key(const struct gh_conf_key *key, void *arg)
{
	struct chan_files *f = arg;

	if (key->type == GH_CT_PATH && strcmp(key->section, "channel.*") == 0)
		try_open(f->k, "notifyd", gh_conf_str(f->conf, f->section,
		                                      key->key), 0, 0, 1);
}

static void
chan_section(const char *name, void *arg)
{
	struct chan_files *f = arg;

	f->section = name;
	gh_conf_schema_each(chan_path_key, f);
}

/* The files of one language directory of the admin's templates. */
static void
check_lang_dir(struct chk *k, const char *dir)
{
	struct dirent *de;
	DIR *d;

	if (try_open(k, "notifyd", dir, 1, 0, 0) != 0 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[4096 + 256 + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		try_open(k, "notifyd", path, 0, 0, 0);
	}
	closedir(d);
}

static void
as_notifyd(struct chk *k, const struct gh_conf *conf)
{
	struct chan_files cf = {k, conf, NULL};
	const char *tdir = gh_conf_str(conf, "notifyd", "templates");
	struct nd_log log;
	char detail[1024];
	int before = k->n;
	DIR *d;

	if (try_open(k, "notifyd", tdir, 1, 0, 0) == 0 &&
	    (d = opendir(tdir)) != NULL) {
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			char path[4096 + 256];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", tdir, de->d_name);
			/* a language's templates (ko/...) are read too */
			if (gh_lang_tag_ok(de->d_name) &&
			    de->d_type == DT_DIR)
				check_lang_dir(k, path);
			else
				try_open(k, "notifyd", path, 0, 0, 0);
		}
		closedir(d);
	}
	gh_conf_sections(conf, "channel.", chan_section, &cf);
	try_open(k, "notifyd", gh_conf_str(conf, "notifyd", "zoneinfo"), 1, 0,
	         0);
	if (k->n == before) {
		memset(&log, 0, sizeof(log));
		nd_log_init(&log, "stderr", "error");
		if (nd_check_conf(&log, conf, NULL, detail, sizeof(detail)))
			problem(k, "notifyd", 0, "%s (as %s)", detail, k->as);
	}
	try_store(k, "notifyd", gh_conf_str(conf, "store", "path"));
}

/* Become user (uid, gid) for good: with its supplementary groups
 * (groups), as the milter and nginx's workers do, or with none, as a
 * store's owner does (gh_store_become_owner). */
static int
become(const char *user, uid_t uid, gid_t gid, int groups)
{
	if ((groups ? initgroups(user, gid) : setgroups(0, NULL)) != 0 ||
	    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		return -1;
	return setuid(0) == 0 ? -1 : 0;
}

enum svc_kind { SVC_MILTER, SVC_NOTIFYD, SVC_STORE_ONLY };

/*
 * Run one daemon's checks in a child that became user; read its reports
 * back.  name is what the reports are filed under, path the store a
 * SVC_STORE_ONLY service opens.
 */
static void
as_service(struct chk *k, const struct gh_conf *conf, const char *name,
           const char *user, int groups, enum svc_kind kind,
           const char *path, int reads_conf)
{
	struct passwd *pw = getpwnam(user);
	char buf[8192];
	size_t have = 0;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pw == NULL) {
		problem(k, name, 0, "no user '%s' to check as", user);
		return;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		problem(k, name, 0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		problem(k, name, 0, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		struct chk ck = *k;
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		close(p[0]);
		/* no terminal to type into, whatever a file it parses
		 * made of this process (cli/util.c, leave_terminal) */
		(void)setsid();
		if (null >= 0)
			(void)dup2(null, 0);
		ck.out_fd = p[1];
		ck.as = user;
		ck.n = 0;
		/* a check never waits for long; one that does is a problem
		 * to report, not a hung command */
		alarm(CHECK_CHILD_SECONDS);
		if (become(user, pw->pw_uid, pw->pw_gid, groups) != 0) {
			problem(&ck, name, 0, "cannot become user %s: %s", user,
			        strerror(errno));
			_exit(1);
		}
		/* read again on every reload, by then as this user */
		if (reads_conf)
			try_open(&ck, name, k->c->conf_path, 0, 0, 1);
		if (kind == SVC_MILTER)
			as_milter(&ck, conf);
		else if (kind == SVC_NOTIFYD)
			as_notifyd(&ck, conf);
		else
			try_store(&ck, name, path);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		char *nl;

		n = read(p[0], buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			char *part, *msg;

			*nl = '\0';
			part = strchr(buf, '\t');
			msg = part ? strchr(part + 1, '\t') : NULL;
			if (part && msg) {
				*part++ = '\0';
				*msg++ = '\0';
				problem(k, part, buf[0] == '1', "%s", msg);
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;   /* a line longer than any we write */
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		problem(k, name, 0, "the check as %s took more than %d s: "
		        "something it opened never answered", user,
		        CHECK_CHILD_SECONDS);
	else if (!WIFEXITED(status))
		problem(k, name, 0, "the check as %s died (signal %d)", user,
		        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Whom a store's daemon runs as: the directory's owner (it becomes
 * that), else the configured owner, else fallback. */
static const char *
store_user(const struct gh_conf *conf, enum gh_domain dom, const char *path,
           const char *fallback, char *buf, size_t len)
{
	const char *want = gh_conf_domain_owner(conf, dom);
	uid_t uid;

	if (gh_store_owner(path, &uid, NULL, NULL, 0) == GH_OK) {
		struct passwd *pw = getpwuid(uid);

		if (pw != NULL) {
			snprintf(buf, len, "%s", pw->pw_name);
			return buf;
		}
	}
	return want != NULL && *want != '\0' ? want : fallback;
}

static void
check_services(struct chk *k, const struct gh_conf *conf)
{
	struct gh_store_opts o;
	struct gm_mboot mb;
	char why[512], ubuf[256];
	const char *user;

	if ((k->only & PART_MILTER) &&
	    gm_mboot_parse(conf, 1, &mb, why, sizeof(why)) == 0 &&
	    mb.user != NULL)
		as_service(k, conf, "milter", mb.user, 1, SVC_MILTER, NULL, 1);
	if (k->only & PART_NOTIFYD) {
		const char *path = gh_conf_str(conf, "store", "path");

		user = store_user(conf, GH_DOMAIN_CORE, path, "gatehouse", ubuf,
		                  sizeof(ubuf));
		as_service(k, conf, "notifyd", user, 0, SVC_NOTIFYD, NULL, 1);
	}
	if (k->only & PART_NGINX) {
		user = gh_conf_domain_owner(conf, GH_DOMAIN_WEB);
		if (user == NULL || *user == '\0')
			user = "www-data";
		gh_conf_domain_store_opts(conf, GH_DOMAIN_WEB, &o, NULL);
		/* nginx's master reads the file and the keys, as root */
		as_service(k, conf, "nginx", user, 1, SVC_STORE_ONLY, o.path,
		           0);
	}
	for (int dom = GH_DOMAIN_MAIL; (k->only & PART_BRIDGE) &&
	     dom < GH_DOMAIN_COUNT_; dom++) {
		char name[64];
		int shared = 0;

		gh_conf_domain_store_opts(conf, (enum gh_domain)dom, &o, &shared);
		if (shared)
			continue;   /* no bridge: the domain writes the core's */
		user = store_user(conf, (enum gh_domain)dom, o.path, NULL, ubuf,
		                  sizeof(ubuf));
		if (user == NULL)
			continue;   /* no store and no owner: said already */
		snprintf(name, sizeof(name), "bridge %s",
		         gh_domain_name((enum gh_domain)dom));
		as_service(k, conf, name, user, 0, SVC_STORE_ONLY, o.path, 1);
	}
}

/* [nats] (cluster/ghc.h): the options, and the secret file of the core
 * and of each domain that has a store (and so a bridge) here. */
static void
nats_problem(void *arg, const char *msg)
{
	problem(arg, "nats", 0, "%s", msg);
}

static void
check_nats(struct chk *k, const struct gh_conf *conf)
{
	unsigned doms = 1u << GH_DOMAIN_CORE;

	for (int d = GH_DOMAIN_MAIL; d < GH_DOMAIN_COUNT_; d++) {
		struct gh_store_opts o;
		int shared = 1;

		gh_conf_domain_store_opts(conf, (enum gh_domain)d, &o, &shared);
		if (!shared)
			doms |= 1u << d;
	}
	(void)ghc_check(conf, doms, nats_problem, k);
}

static int
parse_only(const char *list, unsigned *out)
{
	char buf[256], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -1;
	*out = 0;
	for (char *w = strtok_r(buf, ", ", &save); w;
	     w = strtok_r(NULL, ", ", &save)) {
		size_t i;

		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			if (strcmp(w, parts[i].name) == 0)
				break;
		if (i == sizeof(parts) / sizeof(parts[0]))
			return -1;
		*out |= parts[i].bit;
	}
	return *out ? 0 : -1;
}

int
cli_config_check(struct cli *c, int as_svc, const char *only,
                 const char *pam_dir)
{
	struct chk k;
	int rc;

	memset(&k, 0, sizeof(k));
	k.c = c;
	k.out_fd = -1;
	k.only = PART_ALL;
	k.pam_dir = pam_dir ? pam_dir : CHECK_PAM_DIR;
	if (only != NULL && parse_only(only, &k.only) != 0)
		return cli_usage(c, "config check: --only takes a list of "
		                 "milter, notifyd, tokens, nginx, pam, store, "
		                 "bridge, nats");
	if (as_svc && geteuid() != 0) {
		cli_eprintf("%s: config check --as-service: only root can "
		            "become each daemon's user\n", c->prog);
		return EXIT_NOPERM;
	}
	rc = cli_load_conf(c);
	if (rc)
		return rc;
	if (c->json)
		k.problems = json_array();
	if (geteuid() != 0 && !c->json)
		cli_eprintf("%s: note: not root: files are read as uid %ld; "
		            "as root, add --as-service to read them as each "
		            "daemon will\n", c->prog, (long)geteuid());
	if (k.only & PART_MILTER)
		check_milter(&k, c->conf);
	if (k.only & PART_NOTIFYD)
		check_notifyd(&k, c->conf);
	if (k.only & (PART_TOKENS | PART_NGINX))
		check_tokens(&k, c->conf);
	if (k.only & PART_PAM)
		check_pam(&k);
	if (k.only & PART_STORE)
		check_stores(&k, c->conf);
	if (k.only & PART_NATS)
		check_nats(&k, c->conf);
	if (as_svc)
		check_services(&k, c->conf);

	rc = k.n == 0 ? EXIT_OK : k.denied ? EXIT_NOPERM : EXIT_CONFIG;
	if (c->json) {
		json_t *j = json_pack("{s:s, s:b, s:b, s:o}", "file",
		                      c->conf_path, "ok", k.n == 0, "as_service",
		                      as_svc, "problems", k.problems);

		cli_print_json(j);
		json_decref(j);
	} else if (k.n == 0) {
		cli_printf("%s: ok%s\n", c->conf_path, as_svc ?
		           " (and as each daemon's user)" : "");
	} else {
		cli_eprintf("%s: %s: %d problem%s\n", c->prog, c->conf_path,
		            k.n, k.n == 1 ? "" : "s");
	}
	return rc;
}
