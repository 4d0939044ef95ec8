/*
 * options.h - the arguments written after pam_gatehouse.so on a pam.d line
 *
 * They are parsed anew on every pam_sm_* call (a module keeps no state
 * between calls), into a struct on the caller's stack.  String fields point
 * into the argv PAM handed us and are valid only during that call.
 * pam_gatehouse(8) documents every option.
 */
#ifndef GH_PAM_OPTIONS_H
#define GH_PAM_OPTIONS_H

#include <stddef.h>

enum gp_notify {
	GH_PAM_NOTIFY_NEVER = 0,    /* keep known_hosts, raise nothing */
	GH_PAM_NOTIFY_NEW_HOST,     /* login.new_host only (the default) */
	GH_PAM_NOTIFY_ALWAYS        /* also a login event for every session */
};

enum gp_mode {
	GH_PAM_MODE_DETACH = 0,     /* in a detached writer; the login goes on */
	GH_PAM_MODE_CHILD,          /* in a short child, with a hard deadline */
	GH_PAM_MODE_INLINE          /* store work in the calling process */
};

#define GH_PAM_TIMEOUT_DEFAULT 50
#define GH_PAM_TIMEOUT_MAX 10000
#define GH_PAM_WRITER_TIMEOUT_DEFAULT 5000
#define GH_PAM_WRITER_TIMEOUT_MAX 60000
#define GH_PAM_BURST_N_DEFAULT 5
#define GH_PAM_BURST_N_MAX 100
#define GH_PAM_BURST_WINDOW_DEFAULT (300 * 1000LL)
#define GH_PAM_BURST_WINDOW_MAX (7 * 86400 * 1000LL)
#define GH_PAM_TYPE_DEFAULT "login.success"
/* The writer program exec'd in detach and child modes (child.c). */
#ifndef GH_LIBEXECDIR
#define GH_LIBEXECDIR "/usr/local/libexec/gatehouse"
#endif
#define GH_PAM_WRITER_DEFAULT GH_LIBEXECDIR "/gatehouse-pam-writer"
#define GH_PAM_ADMIN_DEFAULT "root"

struct gp_opts {
	const char *store;          /* store=DIR; NULL: the config's [store] */
	const char *config;         /* config=FILE; NULL: the default file */
	const char *type;           /* type=: the per-login event type */
	const char *admin;          /* admin=: user id of per-address bursts */
	const char *writer;         /* writer=: the writer program's path */
	enum gp_notify notify;  /* notify= */
	enum gp_mode mode;      /* mode=detach|child|inline */
	int timeout_ms;             /* timeout_ms=: bound on the whole call */
	int writer_timeout_ms;      /* writer_timeout_ms=: a detached
	                               writer's lifetime */
	int burst_n;                /* fail_burst=N/WINDOW; 0: off */
	long long burst_window_ms;
	int v4_prefix;              /* v4_prefix= (0-32) */
	int v6_prefix;              /* v6_prefix= (0-128) */
	int alert_first;            /* alert_first=yes: no silent baseline */
	int fail;                   /* "fail": auth hook counts a failure */
	int fail_closed;            /* "fail_closed": session errors refuse */
	int debug;                  /* "debug" */
};

/* gp_opts_init - the defaults. */
void gp_opts_init(struct gp_opts *o);

/*
 * gp_opts_parse - apply argv over the defaults already in o.  A bad or
 * unknown argument is skipped (the others still apply, as pam_unix does);
 * the number of bad ones is returned and the first is described in
 * detail, for the caller to log.  Never fails otherwise.
 */
int gp_opts_parse(struct gp_opts *o, int argc, const char **argv,
                      char *detail, size_t detail_len);

/* gp_type_ok - 1 if s is a valid event type ([a-z0-9._-], 1-64). */
int gp_type_ok(const char *s);

#endif
