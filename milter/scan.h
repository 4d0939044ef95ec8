/*
 * scan.h - virus scanning with libclamav: one compiled engine shared by
 * every milter thread, and a per-message spool file the message is
 * streamed into and scanned from at end of message
 *
 * ENGINE
 *   gh_scanner_open() loads the signature directory (ClamAV's .cvd/.cld
 *   databases or small custom ones: .ndb, .hdb, ...) and compiles it once;
 *   libclamav allows any number of concurrent scans on a compiled engine.
 *   The scanner is reference counted: each configuration holds one, and a
 *   reload that finds the directory unchanged (names, sizes, inodes and
 *   nanosecond mtimes of its files) shares the
 *   old engine instead of compiling a second copy.  A changed directory gets
 *   a new engine built beside the old one, so scanning never pauses; the
 *   old engine is freed when the last connection using it closes.
 *   gh_scanner_db_changed() compares the directory with what the engine
 *   was loaded from, so the milter can notice freshclam's updates itself
 *   ([milter] clamav_check, main.c) instead of waiting for a SIGHUP.
 *
 * SPOOL
 *   The message (header fields as "Name:value\r\n", the empty line, the
 *   body) is kept in memory up to GH_SPOOL_MEM_MAX bytes and scanned from
 *   there; a larger one goes, from the moment it outgrows that, to an
 *   anonymous file in spool_dir (O_TMPFILE, or mkstemp and unlink where
 *   that is unsupported), so nothing is left behind by a crash.  Most mail
 *   thus never touches the disk here (a file creation, a write per field
 *   and the scanner mapping the file back).  Bytes past the size cap are
 *   dropped and the spool marked truncated; ClamAV then scans what it has.
 *   Failures to make or write the file are sticky and reported at scan
 *   time (open_err says the file could not be made).
 */
#ifndef GH_MILTER_SCAN_H
#define GH_MILTER_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/err.h"

#define GH_VIRNAME_MAX 128
#define GH_SPOOL_MEM_MAX (256 * 1024)	/* bytes kept in memory */

struct gh_scanner;

/*
 * gh_scanner_open - a scanner for dbdir with limits max_size (bytes per
 * message and per file inside it) and timeout_ms, making its temporary
 * files in tmpdir (NULL: libclamav's default, $TMPDIR or /tmp; created,
 * mode 0700, if missing).  prev (may be NULL) is reused, with a new
 * reference, when it was made from the same directory with the same limits
 * and temporary directory and the directory has not changed.  Errors:
 * GH_ENOTFOUND (no such directory), GH_EINVAL (no signatures in it),
 * GH_EACCES (tmpdir unusable), GH_EIO (libclamav failed; detail says how),
 * GH_ENOMEM.
 */
gh_err gh_scanner_open(const char *dbdir, int64_t max_size,
    int64_t timeout_ms, const char *tmpdir, const struct gh_scanner *prev,
    struct gh_scanner **out, char *detail, size_t detail_len);

void gh_scanner_ref(struct gh_scanner *s);
void gh_scanner_unref(struct gh_scanner *s);	/* NULL is allowed */

/* gh_scanner_signatures - how many signatures the engine loaded. */
unsigned gh_scanner_signatures(const struct gh_scanner *s);

/* gh_scanner_dbdir - the signature directory the engine was loaded from. */
const char *gh_scanner_dbdir(const struct gh_scanner *s);

/*
 * gh_scanner_db_changed - 1 if the signature directory is no longer what
 * the engine was loaded from (a file added, removed, replaced or
 * rewritten), 0 if it is the same or cannot be read now.  now receives
 * the directory's current stamp, for telling one change from the next.
 */
int gh_scanner_db_changed(const struct gh_scanner *s, unsigned char now[32]);

struct gh_spool {
	unsigned char *mem;	/* the message while it fits in memory */
	size_t mlen, mcap;
	int fd;			/* -1: no file (yet) */
	const char *dir;	/* where a file goes (not copied) */
	uint64_t written;	/* bytes kept, in memory or in the file */
	uint64_t seen;		/* bytes offered, kept or not */
	uint64_t cap;
	int err;		/* errno of the first failure, sticky */
	gh_err open_err;	/* the file could not be made: why */
};

/* gh_spool_open - an empty spool whose file, if one is needed, goes in
 * dir (which must outlive the spool). */
void gh_spool_open(struct gh_spool *sp, const char *dir, uint64_t cap);

/* gh_spool_write - append (up to the cap). */
void gh_spool_write(struct gh_spool *sp, const void *data, size_t len);

/* gh_spool_header - append "name:value\r\n" (value as libmilter gives it,
 * its "\n" folding turned into "\r\n"). */
void gh_spool_header(struct gh_spool *sp, const char *name,
    const char *value);

/* gh_spool_close - free the memory, close the file. */
void gh_spool_close(struct gh_spool *sp);

typedef enum gh_scan_result {
	GH_SCAN_CLEAN = 0,
	GH_SCAN_INFECTED = 1,
	GH_SCAN_ERROR = 2
} gh_scan_result;

/*
 * gh_scanner_scan - scan the spool.  INFECTED puts the signature name in
 * virname; ERROR puts the reason in virname (a spool write error, a
 * libclamav error such as a timeout).
 */
gh_scan_result gh_scanner_scan(const struct gh_scanner *s,
    struct gh_spool *sp, char *virname, size_t virname_len);

#endif /* GH_MILTER_SCAN_H */
