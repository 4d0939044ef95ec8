/*
 * gscan.h - the one libclamav scanner of gatehouse-milter and the nginx
 * module: a compiled engine, its limits and signature directory, and the
 * scan of a descriptor or of memory into one verdict.
 *
 * It is a static library of its own (build/libgscan.a, -fPIC) linked only
 * by the two hosts that scan; libgatehouse, which the CLI and the PAM
 * module link too, must never pull in libclamav.  Its names carry the
 * gscan_ prefix (gh_ is libgatehouse's public API).  The library never
 * logs: libclamav's own messages reach the host through gscan_set_log().
 *
 * VERDICTS
 *   Every scan ends in one struct gscan_verdict:
 *
 *     GSCAN_CLEAN        libclamav read all of it and found nothing
 *     GSCAN_INFECTED     a signature matched; name is the signature
 *     GSCAN_UNSCANNABLE  it could not be read whole: reason says why
 *                        (size, files, nested, timeout, encrypted, limit);
 *                        name is the heuristic libclamav reported
 *                        ("Heuristics.Limits.Exceeded.MaxFileSize",
 *                        "Heuristics.Encrypted.Zip", ...)
 *     GSCAN_ERROR        the scan failed; name is why ("libclamav: ...",
 *                        "fstat: ...")
 *
 *   A file is never reported clean unless libclamav read all of it.  Scans
 *   run with CL_SCAN_HEURISTIC_EXCEEDS_MAX, so an input past max_scansize,
 *   max_files, max_recursion or max_scantime is an alert
 *   instead of a silent stop, and with CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE
 *   (and _DOC when asked, see struct gscan_config), so an encrypted
 *   archive is one too; those alerts, and libclamav's own limit errors
 *   (CL_ETIMEOUT, CL_EMAXSIZE, CL_EMAXFILES, CL_EMAXREC), become
 *   UNSCANNABLE.  libclamav defers heuristic alerts: a real signature
 *   found later in the same input is reported instead, as INFECTED.
 *
 *   max_filesize is the input's own limit, checked here before libclamav
 *   sees it (for a top-level input past it libclamav 1.4 answers CL_VIRUS
 *   with no name at all).  A file inside the input is bounded by
 *   max_scansize instead: libclamav 1.4 skips an archive member past its
 *   max_filesize without any alert, so an archive with one big member
 *   would come out clean; libclamav's own max_filesize is raised to
 *   max_scansize, past which it does alert (MaxScanSize).
 *
 *   The clean-after-error guard: libclamav 1.4 answers CL_CLEAN for a scan
 *   it could not do (for one, when it cannot make its temporary
 *   directory: an archive with EICAR inside comes out "clean") and says so
 *   only to its message callback, with no scan context.  The callback runs
 *   in the scanning thread, so this library counts the errors of a scan in
 *   thread-local storage; a CL_CLEAN with an error is GSCAN_ERROR, never
 *   clean.  gscan_classify() is that decision as a pure function.
 *
 * MEMORY
 *   Given a descriptor (cl_scandesc) libclamav reads the file into an
 *   anonymous mapping as large as the file, so every scan in flight would
 *   hold a private copy of its input.  From GSCAN_MAP_MIN bytes up
 *   gscan_fd() maps the file read-only instead and hands it over as memory
 *   (cl_fmap_open_memory + cl_scanmap_callback): the pages are the page
 *   cache's, shared and reclaimable, and the host's private memory stays
 *   flat whatever the size.  The caller must make sure nothing truncates
 *   the file during the scan (a store under a directory only it writes,
 *   an unnamed O_TMPFILE): a truncated mapping raises SIGBUS.
 *
 * THREADS
 *   gscan_engine_open() may run in any thread, beside scans on other
 *   engines.  A compiled engine is read-only: any number of threads may
 *   scan with it at once.  gscan_engine_ref()/unref() are atomic; the
 *   engine is freed by the last unref, which must not race a scan on it
 *   (each scanning party holds its own reference).  gscan_set_log() is
 *   process-wide: call it once, before the first engine is opened.
 *
 * FORK
 *   An engine compiled before fork() may be used by the children (its
 *   pages are shared copy-on-write); each process unrefs its own copy.  Do
 *   not fork while another thread is inside gscan_engine_open().
 *
 * OWNERSHIP
 *   Strings handed in are copied.  Verdicts are the caller's, filled in
 *   place, fixed size.  Descriptors and memory handed to a scan stay the
 *   caller's (not closed, not freed, not kept after the call).
 */
#ifndef GATEHOUSE_GSCAN_H
#define GATEHOUSE_GSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gatehouse/err.h"

#define GSCAN_NAME_MAX 128		/* verdict names, NUL included */
#define GSCAN_MAP_MIN (256 * 1024)	/* gscan_fd maps from this size up */

struct gscan_engine;

/*
 * What an engine is made from.  A limit of 0 keeps libclamav's default
 * (1.4: max_filesize 100 MB, max_scansize 400 MB, max_files 10000,
 * max_recursion 17, max_scantime 120 s).
 */
struct gscan_config {
	const char *dbdir;	/* the signature directory (.cvd, .ndb, ...),
				 * or one database file */
	const char *tmpdir;	/* libclamav's temporary directory; NULL or
				 * "": $TMPDIR or /tmp.  Not checked here:
				 * libclamav makes a directory in it per scan,
				 * and a scan that cannot is an ERROR (the
				 * guard); a host may check it first. */
	int64_t max_filesize;	/* bytes of the input (see VERDICTS) */
	int64_t max_scansize;	/* bytes read in all, decoded parts included,
				 * and of any one file inside the input */
	int64_t max_files;	/* files inside an archive or message */
	int64_t max_recursion;	/* archives within archives */
	int64_t max_scantime_ms;	/* one scan's time */
	int no_cache;		/* 1: turn libclamav's clean-file cache off
				 * (an extra pass over every file, paid back
				 * only by the same file scanned again) */
	int encrypted_doc;	/* 1: an encrypted document (PDF, Office) is
				 * UNSCANNABLE too.  Off in both hosts: PDFs
				 * with an empty user password (only printing
				 * or copying restricted) are everyday mail. */
	int distrust;		/* 1: distrust_uid may not own the signatures */
	uid_t distrust_uid;	/* (nginx's worker user, when its master, as
				 * root, compiles the engine) */
};

enum gscan_kind {
	GSCAN_CLEAN = 0,
	GSCAN_INFECTED,
	GSCAN_UNSCANNABLE,
	GSCAN_ERROR
};

enum gscan_reason {		/* why UNSCANNABLE; NONE otherwise */
	GSCAN_R_NONE = 0,
	GSCAN_R_SIZE,		/* max_filesize or max_scansize */
	GSCAN_R_FILES,		/* max_files */
	GSCAN_R_NESTED,		/* max_recursion */
	GSCAN_R_TIMEOUT,	/* max_scantime */
	GSCAN_R_ENCRYPTED,	/* an encrypted archive or document */
	GSCAN_R_LIMIT		/* another of libclamav's internal limits */
};

struct gscan_verdict {
	enum gscan_kind kind;
	enum gscan_reason reason;
	char name[GSCAN_NAME_MAX];	/* see VERDICTS; "" when CLEAN */
};

/*
 * gscan_set_log - where libclamav's error and warning messages go: fn is
 * called in the thread that caused them (a scanning thread, or the one
 * opening an engine) with level 0 for an error, 1 for a warning and the
 * message without its trailing newline; it must be thread-safe.  NULL
 * (the default) drops them.  Errors are counted for the guard either way.
 */
void gscan_set_log(void (*fn)(int level, const char *msg));

/*
 * gscan_engine_open - a compiled engine for cfg.  prev (may be NULL) is
 * returned again, with a new reference, when it was made from the same
 * configuration and the signature directory has not changed since (see
 * gscan_engine_db_changed); otherwise a new engine is built beside it, so
 * scans on prev never pause.  detail receives the reason on failure.
 * Errors: GH_ENOTFOUND (no such directory or file), GH_EINVAL (no
 * signatures in it, a limit out of range), GH_EIO (libclamav failed),
 * GH_ENOMEM.
 */
gh_err gscan_engine_open(const struct gscan_config *cfg,
    const struct gscan_engine *prev, struct gscan_engine **out,
    char *detail, size_t detail_len);

/* gscan_engine_ref - one more reference (atomic). */
void gscan_engine_ref(struct gscan_engine *e);

/* gscan_engine_unref - drop one; the last frees the engine.  NULL is
 * allowed. */
void gscan_engine_unref(struct gscan_engine *e);

/* gscan_engine_signatures - how many signatures the engine loaded. */
unsigned gscan_engine_signatures(const struct gscan_engine *e);

/* gscan_engine_dbdir - the signature directory it was loaded from. */
const char *gscan_engine_dbdir(const struct gscan_engine *e);

/* gscan_engine_max_filesize - the max_filesize in force (libclamav's
 * default when the configuration left it 0). */
int64_t gscan_engine_max_filesize(const struct gscan_engine *e);

/*
 * gscan_engine_db_changed - 1 if the signature directory is no longer
 * what the engine was loaded from (a file added, removed, replaced or
 * rewritten: names, inodes, sizes, modes and nanosecond mtimes), 0 if it
 * is the same or cannot be read now.  now receives the directory's
 * current stamp, for telling one change from the next.
 */
int gscan_engine_db_changed(const struct gscan_engine *e,
    unsigned char now[32]);

/*
 * gscan_fd - scan the regular file open on fd (read from offset 0; the
 * offset is left anywhere).  name (may be NULL) is what libclamav's
 * messages call it.  Mapped from GSCAN_MAP_MIN bytes up (see MEMORY).
 */
void gscan_fd(const struct gscan_engine *e, int fd, const char *name,
    struct gscan_verdict *v);

/*
 * gscan_mem - scan len bytes at buf (a message kept in memory).  len 0 is
 * CLEAN.
 */
void gscan_mem(const struct gscan_engine *e, const void *buf, size_t len,
    struct gscan_verdict *v);

/*
 * gscan_classify - the verdict for libclamav's return code rc (a
 * cl_error_t), the signature name it gave (may be NULL), and the errors
 * its message callback reported during the scan (nerrors, the first one's
 * text in errmsg, may be NULL).  Pure: the guard and the heuristics'
 * mapping, for the hosts' tests.
 */
void gscan_classify(int rc, const char *virname, unsigned nerrors,
    const char *errmsg, struct gscan_verdict *v);

/* gscan_kind_name - "clean", "infected", "unscannable", "error". */
const char *gscan_kind_name(enum gscan_kind k);

/* gscan_reason_name - "size", "files", "nested", "timeout", "encrypted",
 * "limit", or "" for NONE. */
const char *gscan_reason_name(enum gscan_reason r);

/*
 * CLAMD
 *   A configuration whose dbdir is "clamd:PATH" (GSCAN_CLAMD_PREFIX) makes
 *   an engine that loads nothing: every scan is sent to the clamd
 *   listening on the unix socket PATH (zINSTREAM, in chunks of
 *   GSCAN_CLAMD_CHUNK bytes, far below any StreamMaxLength), with the
 *   same verdicts: "stream: OK" is CLEAN, "stream: NAME FOUND" INFECTED,
 *   or UNSCANNABLE when NAME is one of the heuristics above (clamd.conf's
 *   AlertExceedsMax and AlertEncryptedArchive decide whether clamd
 *   reports them), "INSTREAM size limit exceeded" UNSCANNABLE (size), any
 *   other reply, a refused connection or a reply that does not come
 *   within the time (max_scantime_ms, or 120 s, plus GSCAN_CLAMD_SLACK_MS)
 *   ERROR.  max_filesize is checked here before sending; the other limits
 *   are clamd.conf's.  The I/O blocks: scan only in threads that may
 *   wait (a thread pool, the milter's threads).  gscan_engine_open()
 *   does not connect (clamd may start later); gscan_engine_signatures()
 *   is 0 and gscan_engine_db_changed() 0 (clamd reloads itself).
 */
#define GSCAN_CLAMD_PREFIX "clamd:"
#define GSCAN_CLAMD_CHUNK (64 * 1024)
#define GSCAN_CLAMD_SLACK_MS 10000
#define GSCAN_KEY_LEN 32		/* gscan_engine_key */

/* gscan_is_clamd - 1 if dbdir names a clamd socket ("clamd:PATH"). */
int gscan_is_clamd(const char *dbdir);

/* gscan_engine_clamd - the clamd socket of e, NULL for libclamav. */
const char *gscan_engine_clamd(const struct gscan_engine *e);

/*
 * gscan_engine_key - a digest of everything a verdict of e depends on
 * besides the input: the backend, the signature databases' version
 * (libclamav: CL_ENGINE_DB_VERSION and _DB_TIME, and the stamp of the
 * database directory, which changes with any database, versioned or not;
 * clamd: its VERSION reply, "ClamAV 1.0.7/27110/Thu ..."), the limits
 * and the heuristics.  Two engines with the same key give the same
 * verdict for the same bytes, so a verdict cache keyed by (SHA-256 of the
 * input, this key) never answers with what older signatures said.
 * libclamav's is computed when the engine is built and costs nothing;
 * clamd's asks clamd (one connection, blocking: see CLAMD).  GH_OK;
 * GH_ENOTFOUND when clamd's reply carries no database version (custom
 * databases only: a signature update would not change the key, so do not
 * cache); GH_EIO when clamd cannot be asked, detail saying why.
 */
gh_err gscan_engine_key(const struct gscan_engine *e,
    unsigned char key[GSCAN_KEY_LEN], char *detail, size_t detail_len);

/*
 * gscan_clamd_reply - the verdict for clamd's reply to zINSTREAM (len
 * bytes at reply, NUL or newline terminated or not).  Pure, for tests and
 * the fuzzer; the reply is untrusted (any bytes, any length).
 */
void gscan_clamd_reply(const char *reply, size_t len, struct gscan_verdict *v);

/*
 * gscan_clamd_version - 1 if clamd's reply to VERSION (len bytes) carries
 * a database version ("ClamAV X/DAILY/DATE" with a non-zero DAILY), 0 if
 * it is only the program's ("ClamAV X"), -1 if it is not a VERSION reply.
 */
int gscan_clamd_version(const char *reply, size_t len);

#endif /* GATEHOUSE_GSCAN_H */
