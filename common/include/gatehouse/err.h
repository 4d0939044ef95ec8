/*
 * gatehouse/err.h - the one error type of libgatehouse
 *
 * Every libgatehouse call that can fail returns a gh_err.  GH_OK is zero, so
 * `if (err)` reads naturally.  The library never logs and never exits: the
 * host (nginx, PAM, the milter, notifyd, the CLI) turns a gh_err into a log
 * line its own way, using gh_strerror() and, where a call offers one, a detail
 * string filled into a caller-supplied buffer.
 *
 * Every program (the CLI, the milter, notifyd, the bridge and the helpers)
 * exits with the sysexits(3) code gh_err_exit_code() gives, so one failure
 * reads the same whichever program met it.
 *
 * Thread safety: every function here returns static data and is safe
 * anywhere.
 */
#ifndef GATEHOUSE_ERR_H
#define GATEHOUSE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gh_err {
	GH_OK = 0,
	GH_ENOMEM,      /* out of memory */
	GH_EINVAL,      /* bad argument or malformed record from the caller */
	GH_ENOTFOUND,   /* no such record, key, file or section */
	GH_EEXIST,      /* already exists (dedup hit, duplicate key) */
	GH_EIO,         /* I/O error from the OS or LMDB */
	GH_EACCES,      /* permission denied (file modes, group, read-only path) */
	GH_ELOCKED,     /* the store's write lock was not had within the deadline */
	GH_EFULL,       /* the store reached its configured maximum size */
	GH_ECORRUPT,    /* the store or a record in it could not be decoded */
	GH_EVERSION,    /* the store's schema, or a record's version, is newer
	                   than this program */
	GH_ECONFIG,     /* configuration error (detail names file, line and key) */
	GH_ETOOBIG,     /* a value exceeds a documented bound */
	GH_ESTALE,      /* a lease was lost (expired and taken by another consumer) */
	GH_EREADONLY,   /* write attempted on a store opened read-only */
	GH_EEXPIRED,    /* a genuine token or record whose time has passed */
	GH_ERR_COUNT_   /* not an error: the number of codes */
} gh_err;

/*
 * gh_strerror - a short English description of err, never NULL.
 * Unknown values give "unknown error".
 */
const char *gh_strerror(gh_err err);

/*
 * gh_errname - the enumerator's name without the GH_ prefix ("ELOCKED"),
 * for logs and JSON output that scripts match on.  Never NULL.
 */
const char *gh_errname(gh_err err);

/*
 * gh_err_exit_code - the sysexits(3) code for err, for a program's exit:
 *
 *   GH_OK                                       0  EX_OK
 *   GH_EINVAL, GH_ETOOBIG, GH_EEXPIRED         65  EX_DATAERR
 *   GH_ENOTFOUND                               66  EX_NOINPUT
 *   GH_ENOMEM                                  71  EX_OSERR
 *   GH_EEXIST                                  73  EX_CANTCREAT
 *   GH_EIO, GH_EFULL, GH_ECORRUPT, GH_EVERSION 74  EX_IOERR
 *   GH_ELOCKED, GH_ESTALE (try again)          75  EX_TEMPFAIL
 *   GH_EACCES, GH_EREADONLY                    77  EX_NOPERM
 *   GH_ECONFIG                                 78  EX_CONFIG
 *   anything else (not a gh_err)               70  EX_SOFTWARE
 *
 * A program may say more where it knows more (the CLI exits 1 when the
 * record asked about does not exist, as grep(1) does; a bad command line is
 * EX_USAGE, which no gh_err stands for).
 */
int gh_err_exit_code(gh_err err);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_ERR_H */
