/*
 * util.c - the gatehouse command's shared helpers: configuration and store
 * opening with messages that say what to do, exit codes, output, and the
 * pieces of an event that more than one subcommand builds and queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"

/* The library's sysexits(3) mapping, but 1 for a record that does not
 * exist: scripts ask "is there an event 42?" as they ask grep. */
int
cli_exit_code(gh_err err)
{
	return err == GH_ENOTFOUND ? EXIT_NOTFOUND : gh_err_exit_code(err);
}

int
cli_fail(struct cli *c, gh_err err, const char *what, const char *detail)
{
	if (detail && *detail)
		cli_eprintf("%s: %s: %s (%s)\n", c->prog, what,
		            gh_strerror(err), detail);
	else
		cli_eprintf("%s: %s: %s\n", c->prog, what, gh_strerror(err));
	return cli_exit_code(err);
}

void
cli_skipped(struct cli *c, size_t n, const char *what)
{
	if (n)
		cli_eprintf("%s: %s: %zu record%s not shown: not readable, or "
		            "written by a newer Gatehouse\n", c->prog, what, n,
		            n == 1 ? "" : "s");
}

int
cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	cli_eprintf("%s: ", c->prog);
	va_start(ap, fmt);
	cli_vfprintf(stderr, fmt, ap);
	va_end(ap);
	cli_eprintf("\nTry '%s%s%s --help'.\n", c->prog, c->cmd ? " " : "",
	            c->cmd ? c->cmd : "");
	return EXIT_USAGE;
}

int
cli_load_conf(struct cli *c)
{
	char detail[1024];
	gh_err err;
	int explicit = c->conf_path != NULL;

	if (!explicit)
		c->conf_path = gh_conf_default_path();
	err = gh_conf_load(&c->conf, c->conf_path, detail, sizeof(detail));
	if (err == GH_ENOTFOUND && !explicit &&
	    strcmp(c->conf_path, GH_CONF_DEFAULT_PATH) == 0) {
		/* No file at the default place: built-in defaults serve. */
		err = gh_conf_defaults(&c->conf);
		c->conf_defaults = err == GH_OK;
		if (err == GH_OK)
			return EXIT_OK;
	}
	if (err == GH_ENOTFOUND) {
		cli_eprintf("%s: %s\n", c->prog, detail);
		return EXIT_NOINPUT;
	}
	if (err == GH_ECONFIG) {
		cli_eprintf("%s: %s\n", c->prog, detail);
		return EXIT_CONFIG;
	}
	if (err)
		return cli_fail(c, err, "cannot read configuration", detail);
	return EXIT_OK;
}

/* As root with create: make the store directory its owner's, the user
 * named by --owner or the configuration, else whoever owns it already,
 * else root. */
static int
prepare_dir(struct cli *c, const char *path, const char *name)
{
	char detail[1024];
	uid_t uid = 0;
	gid_t gid = 0;
	gh_err err;

	if (name != NULL && *name != '\0') {
		struct passwd *pw = getpwnam(name);

		if (pw == NULL) {
			cli_eprintf("%s: store owner '%s': no such user "
			            "(create it first, e.g. adduser --system "
			            "--group %s)\n", c->prog, name, name);
			return EXIT_NOUSER;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		err = gh_store_owner(path, &uid, &gid, detail, sizeof(detail));
		if (err != GH_OK && err != GH_ENOTFOUND)
			return cli_fail(c, err, "cannot create store", detail);
	}
	err = gh_store_prepare(path, uid, gid, detail, sizeof(detail));
	if (err)
		return cli_fail(c, err, "cannot create store", detail);
	return EXIT_OK;
}

/* The child's pid, for the parent's signal handler to pass signals on. */
static volatile pid_t detached_child;

static volatile sig_atomic_t signals_passed;

/* The first signal is passed on; a second one ends the child for good, so
 * a child that ignores signals (one a hostile store took over) cannot
 * hold the admin's shell. */
static void
pass_signal(int sig)
{
	if (detached_child > 0)
		kill(detached_child, signals_passed++ ? SIGKILL : sig);
}

/*
 * Before root becomes a store's owner for good: the rest of the command
 * runs in a child in a session of its own, so whatever a hostile store
 * could make LMDB do as that user has no controlling terminal to type into
 * (TIOCSTI into the admin's root shell).  The parent only passes signals
 * on, waits, and exits with the child's status; it never returns.
 */
static void
leave_terminal(void)
{
	struct sigaction sa;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return;   /* no worse than before: go on in this process */
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		(void)setsid();
		/* and nothing to read of the admin's keystrokes: no command
		 * that opens a store reads its standard input */
		if (fd >= 0 && fd != 0) {
			(void)dup2(fd, 0);
			close(fd);
		}
		return;
	}
	detached_child = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
	      128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

/* Who this process is, for messages: "user NAME" or "uid N". */
static const char *
whoami(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		snprintf(buf, len, "user %s", pw->pw_name);
	else
		snprintf(buf, len, "uid %ld", (long)geteuid());
	return buf;
}

static int
open_opts(struct cli *c, const struct gh_store_opts *so, int create)
{
	struct gh_store_opts o = *so;
	char detail[1024], who[300];
	int was_root = geteuid() == 0;
	gh_err err;

	if (create)
		o.flags |= GH_STORE_CREATE;
	if (was_root) {
		uid_t owner = 0;

		if (gh_store_owner(o.path, &owner, NULL, NULL, 0) == GH_OK &&
		    owner != 0)
			leave_terminal();
		/* Root never opens a store: its owner does. */
		err = gh_store_become_owner(o.path, detail, sizeof(detail));
		if (err == GH_ENOTFOUND)
			goto notfound;
		if (err) {
			cli_eprintf("%s: cannot open store %s: %s: %s (as root)\n",
			            c->prog, o.path, gh_strerror(err), detail);
			return cli_exit_code(err);
		}
	}
	err = gh_store_open(&c->st, &o, detail, sizeof(detail));
	if (err == GH_OK)
		return EXIT_OK;
	whoami(who, sizeof(who));
	if (err == GH_ENOTFOUND) {
notfound:
		/* Only for a store that is not there: anything in the way of
		 * one that is (a directory it may not enter, a file it may
		 * not read) is that error, with the path, below. */
		cli_eprintf("%s: no store at %s (%s): set [store] in %s, or "
		            "create it with 'gatehouse store init'\n", c->prog,
		            o.path, detail[0] ? detail : "not found", c->conf_path);
		return EXIT_NOINPUT;
	}
	if (err == GH_EACCES) {
		cli_eprintf("%s: cannot open store %s: permission denied: %s "
		            "(as %s%s)\n", c->prog, o.path, detail, who,
		            was_root ? ", the store's owner" :
		            "; run as root or as the store's owner");
		return EXIT_NOPERM;
	}
	cli_eprintf("%s: cannot open store %s: %s: %s (as %s)\n", c->prog,
	            o.path, gh_strerror(err), detail, who);
	return cli_exit_code(err);
}

int
cli_open_domain_store(struct cli *c, int dom)
{
	struct gh_store_opts o;
	int rc = cli_load_conf(c);

	if (rc)
		return rc;
	gh_conf_domain_store_opts(c->conf, (enum gh_domain)dom, &o, NULL);
	return open_opts(c, &o, 0);
}

int
cli_open_store(struct cli *c, int create)
{
	struct gh_store_opts o;
	int rc = cli_load_conf(c);

	if (rc)
		return rc;
	if (create)
		return cli_init_stores(c);
	gh_conf_domain_store_opts(c->conf, c->domain >= 0 ?
	                          (enum gh_domain)c->domain : GH_DOMAIN_CORE,
	                          &o, NULL);
	return open_opts(c, &o, 0);
}

/* Make one store in a child that becomes its owner (a process can become
 * one user only, for good).  The child's messages go to stderr. */
static int
init_one(struct cli *c, enum gh_domain dom, const struct gh_store_opts *o)
{
	const char *owner = dom == GH_DOMAIN_CORE && c->owner ? c->owner :
	                    gh_conf_domain_owner(c->conf, dom);
	pid_t pid;
	int rc, status;

	if (geteuid() == 0 && (rc = prepare_dir(c, o->path, owner)) != EXIT_OK)
		return rc;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_fail(c, GH_EIO, "cannot create store", "fork failed");
	if (pid == 0) {
		rc = open_opts(c, o, 1);
		gh_store_close(c->st);
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_SOFTWARE;
	if (rc == EXIT_OK && !c->json)
		cli_printf("%s store ready at %s\n", gh_domain_name(dom),
		           o->path);
	return rc;
}

int
cli_init_stores(struct cli *c)
{
	int rc = cli_load_conf(c);

	if (rc)
		return rc;
	for (int dom = 0; dom < GH_DOMAIN_COUNT_; dom++) {
		struct gh_store_opts o;
		int shared = 0;

		if (c->domain >= 0 && c->domain != dom)
			continue;
		gh_conf_domain_store_opts(c->conf, (enum gh_domain)dom, &o,
		                          &shared);
		if (dom != GH_DOMAIN_CORE && shared)
			continue;
		rc = init_one(c, (enum gh_domain)dom, &o);
		if (rc)
			return rc;
	}
	return EXIT_OK;
}

void
cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	cli_printf("\n");
}

const char *
cli_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

uint64_t
cli_parse_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || errno)
		return 0;
	return (uint64_t)v;
}

enum gh_priority
cli_parse_priority(const char *s)
{
	static const struct {
		const char *name;
		enum gh_priority p;
	} names[] = {
		{"low", GH_PRIORITY_LOW},
		{"normal", GH_PRIORITY_NORMAL},
		{"high", GH_PRIORITY_HIGH},
		{"urgent", GH_PRIORITY_URGENT},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].p;
	if (s[0] >= '0' + GH_PRIORITY_LOW && s[0] <= '0' + GH_PRIORITY_URGENT &&
	    s[1] == '\0')
		return (enum gh_priority)(s[0] - '0');
	return (enum gh_priority)0;
}

int
cli_set_string(struct cli *c, json_t *obj, const char *key, const char *v,
               const char *what)
{
	json_t *s = json_string(v);

	if (s == NULL)
		return cli_usage(c, "%s: --%s is not valid UTF-8", what, key);
	json_object_set_new(obj, key, s);
	return EXIT_OK;
}

int
cli_event_set(struct cli *c, gh_err err, const char *opt, const char *v,
              const char *what)
{
	if (err == GH_OK)
		return EXIT_OK;
	if (err != GH_EINVAL)
		return cli_fail(c, err, what, NULL);
	return cli_usage(c, "%s: --%s is %s", what, opt,
	                 v && v[0] ? "not valid UTF-8" : "empty");
}

int
cli_event_option(struct cli *c, struct gh_event *b, int ch, const char *arg,
                 int64_t now, const char *what)
{
	gh_err (*set)(struct gh_event *, const char *) = NULL;
	const char *opt = NULL;
	enum gh_priority prio;
	long long ms;
	int rc = EXIT_OK;

	switch (ch) {
	case 'u': set = gh_event_set_user; opt = "user"; break;
	case 't': set = gh_event_set_type; opt = "type"; break;
	case 'T': set = gh_event_set_title; opt = "title"; break;
	case 'm': set = gh_event_set_message; opt = "message"; break;
	case 'C': set = gh_event_set_category; opt = "category"; break;
	case 'd': set = gh_event_set_dedup_key; opt = "dedup_key"; break;
	case 'a': set = gh_event_set_action_url; opt = "action_url"; break;
	case 's': set = gh_event_set_source; opt = "source"; break;
	case 'c': set = gh_event_add_channel; opt = "channel"; break;
	case 'r': set = gh_event_add_recipient; opt = "recipient"; break;
	case 'p':
		prio = cli_parse_priority(arg);
		if (!prio)
			rc = cli_usage(c, "%s: bad --priority '%s' (1-4, low, "
			               "normal, high, urgent)", what, arg);
		else
			gh_event_set_priority(b, prio);
		break;
	case 'e':
		if (gh_parse_duration_ms(arg, &ms) || ms <= 0)
			rc = cli_usage(c, "%s: bad --expires '%s' (a duration "
			               "such as 30m, 2h, 1d)", what, arg);
		else
			gh_event_set_expires_at(b, now + ms);
		break;
	case 'M': {
		json_t *m = json_loads(arg, 0, NULL);

		if (!json_is_object(m))
			rc = cli_usage(c, "%s: --metadata must be a JSON object",
			               what);
		else
			gh_event_set_metadata_new(b, json_incref(m));
		json_decref(m);
		break;
	}
	case 'j':
		c->json = 1;
		break;
	default:
		rc = cli_usage(c, "%s: unknown option", what);
		break;
	}
	if (set)
		rc = cli_event_set(c, set(b, arg), opt, arg, what);
	return rc;
}

int
cli_enqueue(struct cli *c, struct gh_event *b, int64_t now, const char *what)
{
	char detail[256];
	json_t *ev;
	uint64_t id = 0;
	int rc, dup = 0;
	gh_err err;

	/* Before the store is opened: a mistake in the command line is
	 * reported the same whether or not the store is there. */
	err = gh_event_finish(b, &ev, detail, sizeof(detail));
	if (err == GH_ENOMEM)
		return cli_fail(c, err, what, NULL);
	if (err) {
		cli_eprintf("%s: %s: %s\n", c->prog, what, detail);
		return EXIT_DATAERR;
	}
	rc = cli_open_store(c, 0);
	if (rc) {
		json_decref(ev);
		return rc;
	}
	err = gh_queue_enqueue(c->st, ev, now,
	                       gh_conf_int(c->conf, "queue", "dedup_window"),
	                       &id, &dup);
	json_decref(ev);
	if (err)
		return cli_fail(c, err, what, NULL);
	if (c->json) {
		json_t *j = json_pack("{s:I, s:b}", "id", (json_int_t)id,
		                      "duplicate", dup);

		cli_print_json(j);
		json_decref(j);
	} else {
		cli_printf("%" PRIu64 "%s\n", id, dup ? " (duplicate: already "
		           "queued)" : "");
	}
	return EXIT_OK;
}
