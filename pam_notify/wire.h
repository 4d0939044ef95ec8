/*
 * wire.h - what crosses the exec between pam_gatehouse's child and the
 * writer program (gatehouse-pam-writer, writer/main.c)
 *
 * The record, on the writer's stdin: one JSON object, at most
 * GH_PAM_WIRE_MAX bytes, written into a pipe by the child before it execs
 * the writer:
 *   {"v": 1, "job": "session"|"fail", "report": "pipe"|"syslog",
 *    "ident": the host's syslog name, "deadline_us": N, "start_us": N,
 *    "opts": {"type", "admin", "notify": "never"|"new_host"|"always",
 *             "burst_n", "burst_window_ms", "alert_first", "debug",
 *             "writer_timeout_ms"},
 *    "store": {"path", "map_size", "map_max", "nosync"},
 *    "login": {"user", "ruser", "tty", "service", "rhost", "addr", "net",
 *              "origin", "host", "now"}}
 * Times are CLOCK_MONOTONIC microseconds (one clock for every process);
 * deadline_us -1 means none (a detached writer bounds itself with its
 * alarm).  The writer trusts none of it: every member is required, typed,
 * bounded and checked as the module checks its options and items (login
 * strings are already escaped: no control character may appear).
 *
 * The answer, on the writer's stdout (report "pipe", mode=child): one line
 *   "GHW1 ERRNAME STAGE FLAGS COUNT DETAIL\n"
 * ERRNAME as gh_errname gives it, the numbers in decimal, DETAIL the rest
 * of the line (control characters replaced by '?').  Text rather than a
 * struct: the module and the writer are separate binaries (and packages),
 * and the host reads it without allocating.
 */
#ifndef GH_PAM_WIRE_H
#define GH_PAM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gatehouse/store.h"
#include "login.h"
#include "options.h"
#include "record.h"

#define GH_PAM_WIRE_MAX 16384     /* a record's bytes, at most */
#define GH_PAM_WIRE_LINE_MAX 320  /* an answer line's bytes, '\n' included */
#define GH_PAM_IDENT_MAX 64       /* the syslog ident's bytes */

struct gp_wire {
	enum gp_what what;
	int report_syslog;            /* 1: log the outcome; 0: answer line */
	char ident[GH_PAM_IDENT_MAX + 1];
	int64_t deadline_us;          /* -1: none */
	int64_t start_us;
	struct gp_opts o;             /* strings point into the parsed JSON */
	struct gh_store_opts so;      /* path points into the parsed JSON */
	struct gp_login l;
};

/*
 * gp_wire_build - the record for w into buf (cap bytes, NUL-terminated);
 * its length in *len.  GH_ETOOBIG when it does not fit GH_PAM_WIRE_MAX or
 * cap, GH_EINVAL when a string is not UTF-8 (JSON cannot carry it),
 * GH_ENOMEM.  detail says which.
 */
gh_err gp_wire_build(const struct gp_wire *w, char *buf, size_t cap,
                     size_t *len, char *detail, size_t dlen);

/*
 * gp_wire_parse - check and decode the record in buf (len bytes) into w.
 * *root receives the parsed JSON, which w's strings point into: the caller
 * json_decref()s it when done with w (NULL on failure).  GH_EINVAL (or
 * GH_ETOOBIG) with detail naming the member at fault.
 */
gh_err gp_wire_parse(const char *buf, size_t len, struct gp_wire *w,
                     json_t **root, char *detail, size_t dlen);

/* gp_wire_answer - the answer line for out into buf (cap >=
 * GH_PAM_WIRE_LINE_MAX); its length. */
size_t gp_wire_answer(const struct gp_outcome *out, char *buf, size_t cap);

/* gp_wire_read_answer - decode an answer line (len bytes, up to and
 * including its '\n') into out: 0, or -1 if it is not one. */
int gp_wire_read_answer(const char *buf, size_t len,
                        struct gp_outcome *out);

#endif
