/*
 * scan.h - the per-message spool the message is streamed into and scanned
 * from at end of message, with the libclamav scanner of scanner/gscan.h
 *
 * ENGINE
 *   The engine, its limits, the database stamp and the verdicts are the
 *   scanner shared with the nginx module (scanner/gscan.h); the milter
 *   keeps one reference per configuration (mcfg.h) and its policy for
 *   each verdict (callbacks.c).
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
 *
 *   With the verdict cache on ([milter] scan_cache, scanner/gscache.h)
 *   the bytes kept are hashed as they are written (SHA-256, OpenSSL EVP),
 *   so the message as scanned has its key without a second pass.
 */
#ifndef GH_MILTER_SCAN_H
#define GH_MILTER_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "gatehouse/err.h"
#include "../scanner/gscan.h"

#define GH_VIRNAME_MAX GSCAN_NAME_MAX
#define GH_SPOOL_MEM_MAX (256 * 1024)	/* bytes kept in memory */
/* libclamav's max_scansize: this many times [milter] scan_max_size (the
 * message, its decoded parts, the contents of its archives) */
#define GH_SCAN_READ_FACTOR 4

struct gm_spool {
	unsigned char *mem;	/* the message while it fits in memory */
	size_t mlen, mcap;
	int fd;			/* -1: no file (yet) */
	const char *dir;	/* where a file goes (not copied) */
	uint64_t written;	/* bytes kept, in memory or in the file */
	uint64_t seen;		/* bytes offered, kept or not */
	uint64_t cap;
	int err;		/* errno of the first failure, sticky */
	gh_err open_err;	/* the file could not be made: why */
	void *md;		/* EVP_MD_CTX: SHA-256 of the bytes kept, for
				 * the verdict cache (gm_spool_hash) */
	int md_err;		/* hashing failed: no digest */
};

/* gm_spool_open - an empty spool whose file, if one is needed, goes in
 * dir (which must outlive the spool). */
void gm_spool_open(struct gm_spool *sp, const char *dir, uint64_t cap);

/* gm_spool_write - append (up to the cap). */
void gm_spool_write(struct gm_spool *sp, const void *data, size_t len);

/* gm_spool_header - append "name:value\r\n" (value as libmilter gives it,
 * its "\n" folding turned into "\r\n"). */
void gm_spool_header(struct gm_spool *sp, const char *name,
    const char *value);

/* gm_spool_hash - also compute the SHA-256 of the bytes kept (what is
 * scanned), as they are written; call before the first write. */
void gm_spool_hash(struct gm_spool *sp);

/* gm_spool_digest - that SHA-256 into out, once everything is written;
 * -1 if it was not asked for or failed. */
int gm_spool_digest(struct gm_spool *sp, unsigned char out[32]);

/* gm_spool_close - free the memory, close the file. */
void gm_spool_close(struct gm_spool *sp);

/*
 * gm_spool_scan - scan the spool with engine e: from memory, or from the
 * file (gscan_fd maps it read-only; the file is an unnamed one of this
 * process, so nothing truncates it under the mapping).  A spool that
 * failed to be written is GSCAN_ERROR, the reason in v->name.
 */
void gm_spool_scan(const struct gscan_engine *e, struct gm_spool *sp,
    struct gscan_verdict *v);

/*
 * gm_scan_check_tmpdir - [milter] clamav_tmp: made if missing (one level,
 * mode 0700), and it must be a directory the milter can write to, so that
 * a bad one fails start-up and reload rather than every scan.  GH_EACCES
 * or GH_ENOTFOUND, detail saying why.
 */
gh_err gm_scan_check_tmpdir(const char *dir, char *detail,
    size_t detail_len);

/* What the milter does with a message for its verdict. */
typedef enum gm_scan_act {
	GH_SCAN_ACCEPT = 0,
	GH_SCAN_REJECT,		/* 550 5.7.1 */
	GH_SCAN_TEMPFAIL	/* 451 4.7.1 */
} gm_scan_act;

struct gm_mcfg;

/*
 * gm_scan_policy - the milter's policy for verdict v under cfg: INFECTED
 * is refused; UNSCANNABLE follows [milter] on_scan_limit (accept by
 * default, as such messages passed before they were told apart), but a
 * scan that ran out of scan_timeout follows on_scan_error, as it always
 * did; ERROR follows on_scan_error; CLEAN is accepted.
 */
gm_scan_act gm_scan_policy(const struct gm_mcfg *cfg,
    const struct gscan_verdict *v);

#endif /* GH_MILTER_SCAN_H */
