/*
 * pamdrv.c - a PAM application for pam_gatehouse's tests and benchmark.
 *
 * Runs a PAM transaction against service files in a test directory
 * (pam_start_confdir, Linux-PAM >= 1.4: no change to /etc/pam.d) and prints
 * one JSON object: each operation's return code and time, and, with
 * --check, what the modules left behind in this process: descriptors,
 * umask, signal dispositions and mask, and anything written to stdout or
 * stderr or sent to the conversation function.
 *
 *   pamdrv --confdir DIR --service NAME --user USER [--rhost H] [--tty T]
 *          [--ruser R] [--password P] [--ops auth,open,close,acct,setcred]
 *          [--repeat N] [--threads N] [--check] [--pause-us N]
 *          [--sigchld ignore|reap-all]
 *
 * --sigchld sets SIGCHLD as some hosts do: ignored (children reaped by the
 * kernel), or a handler reaping every child (waitpid(-1)), before any PAM
 * call -- a module that forks must cope with both.
 * In --rhost, "%t" becomes the thread number and "%i" the iteration (mod
 * 256), so a loop can come from many networks.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define MAX_OPS 8
#define MAX_KEEP 100000

enum op { OP_AUTH, OP_OPEN, OP_CLOSE, OP_ACCT, OP_SETCRED };
static const char *const op_names[] = {"auth", "open", "close", "acct",
                                       "setcred"};

struct cfg {
	const char *confdir, *service, *user, *rhost, *tty, *ruser, *password;
	enum op ops[MAX_OPS];
	int nops, repeat, threads, check;
	long pause_us;           /* between two logins, untimed */
};

struct conv_log {
	pthread_mutex_t mu;
	char text[4096];
	size_t len;
	int prompts;
};

struct worker {
	const struct cfg *cfg;
	struct conv_log *clog;
	int index;
	int nrc;                 /* iterations recorded */
	int *rc;                 /* [repeat][nops] */
	long *us_total;          /* [repeat] */
	long *us_op;             /* [repeat][nops] */
	int start_rc;
};

struct conv_data {
	const char *password;
	struct conv_log *clog;
};

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
     void *appdata)
{
	struct conv_data *cd = appdata;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;

		pthread_mutex_lock(&cd->clog->mu);
		if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON)
			cd->clog->prompts++;
		else if (msg[i]->msg) {
			int k = snprintf(cd->clog->text + cd->clog->len,
			                 sizeof(cd->clog->text) - cd->clog->len,
			                 "%s\n", msg[i]->msg);
			if (k > 0 && cd->clog->len + (size_t)k <
			    sizeof(cd->clog->text))
				cd->clog->len += (size_t)k;
		}
		pthread_mutex_unlock(&cd->clog->mu);
		if ((style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON)
		    && cd->password)
			r[i].resp = strdup(cd->password);
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void
reap_all(int sig)
{
	int saved = errno;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void
subst(const char *tmpl, int t, int i, char *out, size_t len)
{
	size_t j = 0;

	for (const char *p = tmpl; *p && j + 4 < len; p++) {
		if (p[0] == '%' && (p[1] == 't' || p[1] == 'i')) {
			j += (size_t)snprintf(out + j, len - j, "%d",
			                      p[1] == 't' ? t : i % 256);
			p++;
		} else {
			out[j++] = *p;
		}
	}
	out[j] = '\0';
}

static int
run_op(pam_handle_t *h, enum op op)
{
	switch (op) {
	case OP_AUTH: return pam_authenticate(h, 0);
	case OP_OPEN: return pam_open_session(h, 0);
	case OP_CLOSE: return pam_close_session(h, 0);
	case OP_ACCT: return pam_acct_mgmt(h, 0);
	case OP_SETCRED: return pam_setcred(h, PAM_ESTABLISH_CRED);
	}
	return -1;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	const struct cfg *c = w->cfg;
	struct conv_data cd = {c->password, w->clog};
	struct pam_conv pc = {conv, &cd};
	char rhost[256];

	for (int i = 0; i < c->repeat; i++) {
		pam_handle_t *h = NULL;
		long t0;

		if (c->pause_us > 0 && i > 0)
			usleep((useconds_t)c->pause_us);
		t0 = now_us();
		int rc = pam_start_confdir(c->service, c->user, &pc, c->confdir,
		                           &h);

		if (rc != PAM_SUCCESS) {
			w->start_rc = rc;
			return NULL;
		}
		if (c->rhost) {
			subst(c->rhost, w->index, i, rhost, sizeof(rhost));
			pam_set_item(h, PAM_RHOST, rhost);
		}
		if (c->tty)
			pam_set_item(h, PAM_TTY, c->tty);
		if (c->ruser)
			pam_set_item(h, PAM_RUSER, c->ruser);
		for (int k = 0; k < c->nops; k++) {
			long t1 = now_us();
			int r = run_op(h, c->ops[k]);

			if (i < MAX_KEEP) {
				w->rc[i * c->nops + k] = r;
				w->us_op[i * c->nops + k] = now_us() - t1;
			}
		}
		pam_end(h, PAM_SUCCESS);
		if (i < MAX_KEEP) {
			w->us_total[i] = now_us() - t0;
			w->nrc = i + 1;
		}
	}
	return NULL;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the directory's own descriptor */
}

/* Processes whose parent is us, zombies included: a module that forks
 * must reap what it forked. */
static int
count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	pid_t me = getpid();

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char p[300], buf[512], *rp;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		f = fopen(p, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (rp = strrchr(buf, ')')) != NULL) {
			char state;
			int ppid;

			if (sscanf(rp + 1, " %c %d", &state, &ppid) == 2 &&
			    ppid == me)
				n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

struct host_state {
	int children;
	int fds;
	mode_t umask;
	struct sigaction sa[NSIG];
	sigset_t mask;
};

static void
snapshot(struct host_state *s)
{
	s->fds = count_fds();
	s->children = count_children();
	s->umask = umask(022);
	umask(s->umask);
	for (int i = 1; i < NSIG; i++)
		sigaction(i, NULL, &s->sa[i]);
	pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
}

static int
mask_differs(const sigset_t *a, const sigset_t *b)
{
	for (int i = 1; i < NSIG; i++)
		if (sigismember(a, i) != sigismember(b, i))
			return 1;
	return 0;
}

static void
json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int
parse_ops(struct cfg *c, const char *s)
{
	char buf[256];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	c->nops = 0;
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int found = 0;

		for (int k = 0; k < 5; k++)
			if (strcmp(t, op_names[k]) == 0 && c->nops < MAX_OPS) {
				c->ops[c->nops++] = (enum op)k;
				found = 1;
			}
		if (!found)
			return -1;
	}
	return c->nops > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct cfg c;
	struct conv_log clog;
	struct host_state before, after;
	struct worker *w;
	pthread_t *tids;
	int out_fd = -1, cap_fd = -1, saved1 = -1, saved2 = -1;
	FILE *out = stdout;
	char captured[4096];
	ssize_t caplen = 0;

	memset(&c, 0, sizeof(c));
	memset(&clog, 0, sizeof(clog));
	pthread_mutex_init(&clog.mu, NULL);
	c.repeat = 1;
	c.threads = 1;
	parse_ops(&c, "open,close");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--check") == 0) {
			c.check = 1;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (strcmp(a, "--confdir") == 0) c.confdir = v;
		else if (strcmp(a, "--service") == 0) c.service = v;
		else if (strcmp(a, "--user") == 0) c.user = v;
		else if (strcmp(a, "--rhost") == 0) c.rhost = v;
		else if (strcmp(a, "--tty") == 0) c.tty = v;
		else if (strcmp(a, "--ruser") == 0) c.ruser = v;
		else if (strcmp(a, "--password") == 0) c.password = v;
		else if (strcmp(a, "--repeat") == 0) c.repeat = atoi(v);
		else if (strcmp(a, "--threads") == 0) c.threads = atoi(v);
		else if (strcmp(a, "--pause-us") == 0) c.pause_us = atol(v);
		else if (strcmp(a, "--sigchld") == 0) {
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sigemptyset(&sa.sa_mask);
			if (strcmp(v, "ignore") == 0)
				sa.sa_handler = SIG_IGN;
			else if (strcmp(v, "reap-all") == 0) {
				sa.sa_handler = reap_all;
				sa.sa_flags = SA_RESTART;
			} else
				goto usage;
			sigaction(SIGCHLD, &sa, NULL);
		}
		else if (strcmp(a, "--ops") == 0) {
			if (parse_ops(&c, v))
				goto usage;
		} else
			goto usage;
	}
	if (!c.confdir || !c.service || !c.user || c.repeat < 1 ||
	    c.threads < 1 || c.threads > 64)
		goto usage;

	/* syslog opens its socket lazily; open it now so a module's first
	 * log line does not look like a leaked descriptor. */
	openlog("pamdrv", LOG_NDELAY | LOG_PID, LOG_AUTHPRIV);
	if (c.check) {
		/* Anything a module writes to fd 1 or 2 lands in cap_fd. */
		out_fd = dup(1);
		saved2 = dup(2);
		saved1 = out_fd;
		cap_fd = memfd_create("captured", MFD_CLOEXEC);
		if (out_fd < 0 || saved2 < 0 || cap_fd < 0)
			return 2;
		out = fdopen(out_fd, "w");
		fflush(stdout);
		dup2(cap_fd, 1);
		dup2(cap_fd, 2);
	}
	w = calloc((size_t)c.threads, sizeof(*w));
	tids = calloc((size_t)c.threads, sizeof(*tids));
	for (int t = 0; t < c.threads; t++) {
		int keep = c.repeat < MAX_KEEP ? c.repeat : MAX_KEEP;

		w[t].cfg = &c;
		w[t].clog = &clog;
		w[t].index = t;
		w[t].rc = calloc((size_t)keep * (size_t)c.nops, sizeof(int));
		w[t].us_op = calloc((size_t)keep * (size_t)c.nops, sizeof(long));
		w[t].us_total = calloc((size_t)keep, sizeof(long));
	}
	if (c.check)
		snapshot(&before);
	if (c.threads == 1) {
		work(&w[0]);
	} else {
		for (int t = 0; t < c.threads; t++)
			pthread_create(&tids[t], NULL, work, &w[t]);
		for (int t = 0; t < c.threads; t++)
			pthread_join(tids[t], NULL);
	}
	if (c.check) {
		snapshot(&after);
		fflush(stdout);
		fflush(stderr);
		dup2(saved2, 2);
		close(saved2);
		caplen = pread(cap_fd, captured, sizeof(captured) - 1, 0);
		if (caplen < 0)
			caplen = 0;
		close(cap_fd);
	}

	fprintf(out, "{\"ops\":[");
	for (int k = 0; k < c.nops; k++)
		fprintf(out, "%s\"%s\"", k ? "," : "", op_names[c.ops[k]]);
	fprintf(out, "],\"threads\":[");
	for (int t = 0; t < c.threads; t++) {
		fprintf(out, "%s{\"start_rc\":%d,\"rc\":[", t ? "," : "",
		        w[t].start_rc);
		for (int i = 0; i < w[t].nrc; i++) {
			fprintf(out, "%s[", i ? "," : "");
			for (int k = 0; k < c.nops; k++)
				fprintf(out, "%s%d", k ? "," : "",
				        w[t].rc[i * c.nops + k]);
			fprintf(out, "]");
		}
		fprintf(out, "],\"us_total\":[");
		for (int i = 0; i < w[t].nrc; i++)
			fprintf(out, "%s%ld", i ? "," : "", w[t].us_total[i]);
		fprintf(out, "],\"us_op\":[");
		for (int i = 0; i < w[t].nrc; i++) {
			fprintf(out, "%s[", i ? "," : "");
			for (int k = 0; k < c.nops; k++)
				fprintf(out, "%s%ld", k ? "," : "",
				        w[t].us_op[i * c.nops + k]);
			fprintf(out, "]");
		}
		fprintf(out, "]}");
	}
	fprintf(out, "],\"prompts\":%d,\"conv_text\":", clog.prompts);
	json_str(out, clog.text, clog.len);
	if (c.check) {
		int sig_changed = 0;

		for (int i = 1; i < NSIG; i++)
			if (before.sa[i].sa_handler != after.sa[i].sa_handler ||
			    before.sa[i].sa_flags != after.sa[i].sa_flags)
				sig_changed++;
		fprintf(out, ",\"children_before\":%d,\"children_after\":%d",
		        before.children, after.children);
		fprintf(out, ",\"fds_before\":%d,\"fds_after\":%d,"
		        "\"umask_before\":%o,\"umask_after\":%o,"
		        "\"signals_changed\":%d,\"sigmask_changed\":%d,"
		        "\"captured\":", before.fds, after.fds,
		        (unsigned)before.umask, (unsigned)after.umask,
		        sig_changed, mask_differs(&before.mask, &after.mask));
		json_str(out, captured, (size_t)caplen);
	}
	fprintf(out, "}\n");
	fflush(out);
	for (int t = 0; t < c.threads; t++) {
		free(w[t].rc);
		free(w[t].us_op);
		free(w[t].us_total);
	}
	free(w);
	free(tids);
	closelog();
	(void)saved1;
	return 0;
usage:
	fprintf(stderr, "usage: pamdrv --confdir DIR --service NAME --user U "
	        "[--rhost H] [--tty T] [--ruser R] [--password P] "
	        "[--ops auth,open,close,acct,setcred] [--repeat N] [--pause-us N] "
	        "[--threads N] [--check] [--sigchld ignore|reap-all]\n");
	return 2;
}
