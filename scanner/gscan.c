/*
 * gscan.c - the libclamav engine, the scans and their verdicts (gscan.h).
 *
 * The engine part came from gatehouse-milter (reference counting, the
 * database stamp, the temporary directory), the verdicts from the nginx
 * module (the clean-after-error guard, the heuristics, the mapping of
 * large files).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <clamav.h>
#include <openssl/evp.h>

#include "gscan_int.h"

#define LIMITS_PREFIX "Heuristics.Limits.Exceeded"
#define ENCRYPTED_PREFIX "Heuristics.Encrypted."

struct gscan_engine {
	int refs;			/* atomic */
	struct cl_engine *engine;
	char *dbdir;
	char *tmpdir;			/* NULL: libclamav's default */
	unsigned char dbstamp[32];	/* see db_stamp() */
	unsigned sigs;
	struct gscan_config cfg;	/* its strings point at ours above */
	int64_t max_filesize;		/* in force, read back from libclamav */
	uint32_t heuristic;		/* cl_scan_options.heuristic */
	char *clamd;			/* the clamd backend's socket, or NULL:
					 * then engine is NULL (gscan.h, CLAMD) */
	unsigned char key[GSCAN_KEY_LEN];	/* libclamav's, see
						 * gscan_engine_key() */
};

/* libclamav 1.4's default max_filesize, which gscan enforces itself
 * (too_big) and so also in front of clamd */
#define DEFAULT_MAX_FILESIZE (100LL * 1024 * 1024)

/* cl_init() must run once per process before any engine exists; the
 * message callback is set before it, so that its messages count too. */
static pthread_once_t cl_once = PTHREAD_ONCE_INIT;
static cl_error_t cl_init_rc = CL_SUCCESS;

/* The host's log function: set once by gscan_set_log() before any engine,
 * read by the callback in any thread afterwards. */
static void (*log_fn)(int level, const char *msg);

/*
 * The errors libclamav reported during the scan running in this thread
 * (see the guard in gscan.h).  The one mutable static state of the
 * library besides the two above, and the only way to tie a message
 * callback, which has no scan context, to its scan.
 */
static _Thread_local unsigned scan_errors;
static _Thread_local char scan_error[96];

static void
clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg,
           void *context)
{
	char line[256];
	size_t n;
	int level;

	(void)fullmsg;
	(void)context;
	if (severity == CL_MSG_ERROR) {
		level = 0;
		if (scan_errors++ == 0)
			snprintf(scan_error, sizeof(scan_error), "%s",
			         msg ? msg : "");
	} else if (severity == CL_MSG_WARN) {
		level = 1;
	} else {
		return;
	}
	if (log_fn == NULL || msg == NULL)
		return;
	snprintf(line, sizeof(line), "%s", msg);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_fn(level, line);
}

void
gscan_set_log(void (*fn)(int level, const char *msg))
{
	log_fn = fn;
}

static void
do_cl_init(void)
{
	cl_set_clcb_msg(clamav_msg);
	cl_init_rc = cl_init(CL_INIT_DEFAULT);
}

static void
engine_free(struct gscan_engine *e)
{
	if (e->engine)
		cl_engine_free(e->engine);
	free(e->dbdir);
	free(e->tmpdir);
	free(e->clamd);
	free(e);
}

/* A new engine (one reference) with its own copies of cfg, its database
 * directory and tmpdir (may be NULL); NULL for want of memory. */
static struct gscan_engine *
engine_new(const struct gscan_config *cfg, const char *tmpdir)
{
	struct gscan_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->refs = 1;
	e->cfg = *cfg;
	e->dbdir = strdup(cfg->dbdir);
	e->tmpdir = tmpdir ? strdup(tmpdir) : NULL;
	if (e->dbdir == NULL || (tmpdir && e->tmpdir == NULL)) {
		engine_free(e);
		return NULL;
	}
	e->cfg.dbdir = e->dbdir;
	e->cfg.tmpdir = e->tmpdir;
	return e;
}

/* prev again, one more reference: the configuration has not changed. */
static gh_err
share(const struct gscan_engine *prev, struct gscan_engine **out)
{
	/* const only to callers: the count is ours to bump */
	struct gscan_engine *same = (struct gscan_engine *)(uintptr_t)prev;

	gscan_engine_ref(same);
	*out = same;
	return GH_OK;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A digest of the database directory: every file's name, inode, size,
 * mode and modification time to the nanosecond, in name order.
 * libclamav's own cl_statchkdir() compares whole-second mtimes only, so a
 * database rewritten within the second it was loaded would look unchanged.
 */
static gh_err
db_stamp(const char *dir, unsigned char out[32])
{
	char *names[1024];
	size_t n = 0;
	struct dirent *de;
	EVP_MD_CTX *md;
	gh_err err = GH_OK;
	DIR *d = opendir(dir);

	if (d == NULL && errno == ENOTDIR) {
		/* one database file (cl_load takes those too): its own
		 * stamp, as the one file of a directory */
		struct stat st;
		long long v[5];

		memset(&st, 0, sizeof(st));
		if (stat(dir, &st) != 0)
			return GH_ENOTFOUND;
		v[0] = (long long)st.st_ino;
		v[1] = (long long)st.st_size;
		v[2] = (long long)st.st_mtim.tv_sec;
		v[3] = (long long)st.st_mtim.tv_nsec;
		v[4] = (long long)st.st_mode;
		if (EVP_Digest(v, sizeof(v), out, NULL, EVP_sha256(), NULL) != 1)
			return GH_EIO;
		return GH_OK;
	}
	if (d == NULL)
		return GH_ENOTFOUND;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0]))
		if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)))
			n++;
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		long long v[5];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		memset(&st, 0, sizeof(st));
		if (stat(path, &st) != 0)
			continue;
		v[0] = (long long)st.st_ino;
		v[1] = (long long)st.st_size;
		v[2] = (long long)st.st_mtim.tv_sec;
		v[3] = (long long)st.st_mtim.tv_nsec;
		v[4] = (long long)st.st_mode;
		EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1);
		EVP_DigestUpdate(md, v, sizeof(v));
	}
	if (EVP_DigestFinal_ex(md, out, NULL) != 1)
		err = GH_EIO;
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	EVP_MD_CTX_free(md);
	closedir(d);
	return err;
}

void
gscan_engine_ref(struct gscan_engine *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void
gscan_engine_unref(struct gscan_engine *e)
{
	if (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		engine_free(e);
}

unsigned
gscan_engine_signatures(const struct gscan_engine *e)
{
	return e ? e->sigs : 0;
}

const char *
gscan_engine_dbdir(const struct gscan_engine *e)
{
	return e->dbdir;
}

int64_t
gscan_engine_max_filesize(const struct gscan_engine *e)
{
	return e->max_filesize;
}

int
gscan_engine_db_changed(const struct gscan_engine *e, unsigned char now[32])
{
	if (e->clamd) {
		memset(now, 0, 32);
		return 0;	/* clamd reloads its own */
	}
	/* An unreadable directory is not a change: a reload would only fail
	 * on it, and the engine in hand keeps working. */
	if (db_stamp(e->dbdir, now) != GH_OK)
		return 0;
	return memcmp(now, e->dbstamp, sizeof(e->dbstamp)) != 0;
}

static gh_err
set_limits(struct gscan_engine *e, char *detail, size_t detail_len)
{
	const struct {
		enum cl_engine_field f;
		int64_t v;
		const char *name;
	} lim[] = {
		{CL_ENGINE_MAX_FILESIZE, e->cfg.max_filesize, "max_filesize"},
		{CL_ENGINE_MAX_SCANSIZE, e->cfg.max_scansize, "max_scansize"},
		{CL_ENGINE_MAX_FILES, e->cfg.max_files, "max_files"},
		{CL_ENGINE_MAX_RECURSION, e->cfg.max_recursion, "max_recursion"},
		{CL_ENGINE_MAX_SCANTIME, e->cfg.max_scantime_ms, "max_scantime"},
	};
	cl_error_t rc;

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		if (lim[i].v <= 0)
			continue;	/* libclamav's default */
		/* the 32-bit fields (files, recursion, time) would wrap */
		if (lim[i].f != CL_ENGINE_MAX_FILESIZE &&
		    lim[i].f != CL_ENGINE_MAX_SCANSIZE && lim[i].v > UINT32_MAX) {
			snprintf(detail, detail_len, "clamav: %s %lld: too large",
			         lim[i].name, (long long)lim[i].v);
			return GH_EINVAL;
		}
		rc = cl_engine_set_num(e->engine, lim[i].f, (long long)lim[i].v);
		if (rc != CL_SUCCESS) {
			snprintf(detail, detail_len, "clamav: setting %s: %s",
			         lim[i].name, cl_strerror(rc));
			return GH_EIO;
		}
	}
	/*
	 * libclamav 1.4 skips a member of an archive past max_filesize
	 * without a word, heuristic or not, so an archive with one big file
	 * inside would come out clean.  max_filesize is therefore enforced
	 * here on the input itself (too_big), and libclamav's is raised to
	 * max_scansize, past which it does alert (MaxScanSize).
	 */
	{
		int r1, r2;
		long long fs = cl_engine_get_num(e->engine,
		                                 CL_ENGINE_MAX_FILESIZE, &r1);
		long long ss = cl_engine_get_num(e->engine,
		                                 CL_ENGINE_MAX_SCANSIZE, &r2);

		if (r1 != CL_SUCCESS || r2 != CL_SUCCESS) {
			snprintf(detail, detail_len, "clamav: reading limits");
			return GH_EIO;
		}
		e->max_filesize = fs;
		if (ss > fs && (rc = cl_engine_set_num(e->engine,
		    CL_ENGINE_MAX_FILESIZE, ss)) != CL_SUCCESS) {
			snprintf(detail, detail_len, "clamav: setting "
			         "max_filesize: %s", cl_strerror(rc));
			return GH_EIO;
		}
	}
	if (e->cfg.no_cache &&
	    (rc = cl_engine_set_num(e->engine, CL_ENGINE_DISABLE_CACHE, 1)) !=
	    CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: disabling the cache: %s",
		         cl_strerror(rc));
		return GH_EIO;
	}
	return GH_OK;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int
same_config(const struct gscan_engine *e, const struct gscan_config *c,
            const char *tmpdir)
{
	return strcmp(e->dbdir, c->dbdir) == 0 && same_str(e->tmpdir, tmpdir) &&
	    e->cfg.max_filesize == c->max_filesize &&
	    e->cfg.max_scansize == c->max_scansize &&
	    e->cfg.max_files == c->max_files &&
	    e->cfg.max_recursion == c->max_recursion &&
	    e->cfg.max_scantime_ms == c->max_scantime_ms &&
	    e->cfg.no_cache == c->no_cache &&
	    e->cfg.encrypted_doc == c->encrypted_doc;
}

int
gscan_is_clamd(const char *dbdir)
{
	return dbdir != NULL && strncmp(dbdir, GSCAN_CLAMD_PREFIX,
	                                sizeof(GSCAN_CLAMD_PREFIX) - 1) == 0;
}

const char *
gscan_engine_clamd(const struct gscan_engine *e)
{
	return e->clamd;
}

/* The time a clamd reply may take: the scan's own limit, plus slack. */
static int
clamd_timeout_ms(const struct gscan_engine *e)
{
	int64_t t = e->cfg.max_scantime_ms > 0 ? e->cfg.max_scantime_ms :
	    120000;

	t += GSCAN_CLAMD_SLACK_MS;
	return t > INT32_MAX / 2 ? INT32_MAX / 2 : (int)t;
}

/* An engine that sends its scans to clamd: nothing to load. */
static gh_err
clamd_open(const struct gscan_config *cfg, const struct gscan_engine *prev,
           const char *tmpdir, struct gscan_engine **out, char *detail,
           size_t detail_len)
{
	const char *sock = cfg->dbdir + sizeof(GSCAN_CLAMD_PREFIX) - 1;
	struct gscan_engine *e;

	if (*sock != '/') {
		snprintf(detail, detail_len, "clamav_db %s: clamd: needs the "
		         "absolute path of clamd's socket", cfg->dbdir);
		return GH_EINVAL;
	}
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(detail, detail_len, "clamav_db %s: socket path too "
		         "long", cfg->dbdir);
		return GH_EINVAL;
	}
	if (cfg->max_scantime_ms > UINT32_MAX) {
		snprintf(detail, detail_len, "clamav: max_scantime %lld: too "
		         "large", (long long)cfg->max_scantime_ms);
		return GH_EINVAL;
	}
	if (prev && same_config(prev, cfg, tmpdir))
		return share(prev, out);
	e = engine_new(cfg, tmpdir);
	if (e == NULL)
		return GH_ENOMEM;
	e->clamd = strdup(sock);
	if (e->clamd == NULL) {
		engine_free(e);
		return GH_ENOMEM;
	}
	e->max_filesize = cfg->max_filesize > 0 ? cfg->max_filesize :
	    DEFAULT_MAX_FILESIZE;
	*out = e;
	return GH_OK;
}

/* libclamav's key (gscan_engine_key), once the engine is compiled. */
static gh_err
libclamav_key(struct gscan_engine *e)
{
	const enum cl_engine_field f[] = {
		CL_ENGINE_DB_VERSION, CL_ENGINE_DB_TIME,
		CL_ENGINE_MAX_FILESIZE, CL_ENGINE_MAX_SCANSIZE,
		CL_ENGINE_MAX_FILES, CL_ENGINE_MAX_RECURSION,
		CL_ENGINE_MAX_SCANTIME,
	};
	long long v[sizeof(f) / sizeof(f[0]) + 2];
	const char *ver = cl_retver();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	gh_err err = GH_EIO;
	int rc;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		v[i] = cl_engine_get_num(e->engine, f[i], &rc);
		if (rc != CL_SUCCESS)
			v[i] = -1;
	}
	v[sizeof(f) / sizeof(f[0])] = e->max_filesize;
	v[sizeof(f) / sizeof(f[0]) + 1] = e->heuristic;
	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, "gscan libclamav 1", 18) == 1 &&
	    EVP_DigestUpdate(md, ver, strlen(ver) + 1) == 1 &&
	    EVP_DigestUpdate(md, e->dbstamp, sizeof(e->dbstamp)) == 1 &&
	    EVP_DigestUpdate(md, v, sizeof(v)) == 1 &&
	    EVP_DigestFinal_ex(md, e->key, NULL) == 1)
		err = GH_OK;
	EVP_MD_CTX_free(md);
	return err;
}

gh_err
gscan_engine_key(const struct gscan_engine *e,
                 unsigned char key[GSCAN_KEY_LEN], char *detail,
                 size_t detail_len)
{
	char ver[256];
	long long lim[2];
	EVP_MD_CTX *md;
	gh_err err;

	if (e->clamd == NULL) {
		memcpy(key, e->key, GSCAN_KEY_LEN);
		return GH_OK;
	}
	/* Asked each time, not remembered: clamd reloads signatures on its
	 * own, and a key kept even a few seconds past that reload would
	 * answer "clean" from the cache for a file the new signatures
	 * detect.  One zVERSION on a unix socket is cheap beside a scan. */
	err = gscan_clamd_ask_version(e->clamd, clamd_timeout_ms(e), ver,
	                              sizeof(ver), detail, detail_len);
	if (err)
		return err;
	if (gscan_clamd_version(ver, strlen(ver)) != 1) {
		snprintf(detail, detail_len, "clamd: no database version in "
		         "\"%s\"", ver);
		return GH_ENOTFOUND;
	}
	lim[0] = e->max_filesize;
	lim[1] = e->cfg.encrypted_doc;
	md = EVP_MD_CTX_new();
	err = GH_EIO;
	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, "gscan clamd 1", 14) == 1 &&
	    EVP_DigestUpdate(md, e->clamd, strlen(e->clamd) + 1) == 1 &&
	    EVP_DigestUpdate(md, ver, strlen(ver) + 1) == 1 &&
	    EVP_DigestUpdate(md, lim, sizeof(lim)) == 1 &&
	    EVP_DigestFinal_ex(md, key, NULL) == 1)
		err = GH_OK;
	EVP_MD_CTX_free(md);
	if (err)
		snprintf(detail, detail_len, "sha256 failed");
	return err;
}

/*
 * Before root parses signatures (nginx's master compiles the engine as
 * root): the directory and every database in it must be what their owner
 * alone could have written -- root or the directory's owner (freshclam's
 * clamav), never distrust_uid (the web workers' user), no group or other
 * write, no symbolic links -- so that no less trusted uid can hand root's
 * libclamav parsers a file of its choosing.  Checked on descriptors.
 */
static gh_err
db_trusted(const struct gscan_config *cfg, const char *dbdir, char *detail,
           size_t dlen)
{
	struct stat st, fst;
	struct dirent *de;
	DIR *d = NULL;
	int fd, dfd;
	gh_err err = GH_OK;

	fd = open(dbdir, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(detail, dlen, "clamav_db %s: %s", dbdir,
		         errno == ELOOP ? "a symbolic link (root follows none "
		         "to signatures)" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return GH_EACCES;
	}
	if ((st.st_mode & 022) != 0 ||
	    (cfg->distrust && st.st_uid == cfg->distrust_uid)) {
		snprintf(detail, dlen, "clamav_db %s: root compiles these "
		         "signatures, so only their owner may write them (it "
		         "is %s%s): make it 0755, owned by root or clamav", dbdir,
		         (st.st_mode & 022) ? "group or other writable" :
		         "owned by the worker user", "");
		close(fd);
		return GH_EACCES;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return GH_OK;
	}
	dfd = dup(fd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		close(fd);
		snprintf(detail, dlen, "clamav_db %s: %s", dbdir,
		         strerror(errno));
		return GH_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(fd, de->d_name, &fst, AT_SYMLINK_NOFOLLOW) != 0)
			continue;	/* gone meanwhile: cl_load skips it */
		if (S_ISDIR(fst.st_mode))
			continue;	/* cl_load reads files only */
		if (!S_ISREG(fst.st_mode) || (fst.st_mode & 022) != 0 ||
		    (fst.st_uid != 0 && fst.st_uid != st.st_uid)) {
			snprintf(detail, dlen, "clamav_db %s/%s: root compiles "
			         "these signatures, so each must be a plain "
			         "file only the directory's owner (or root) may "
			         "write; remove or fix it", dbdir, de->d_name);
			err = GH_EACCES;
			break;
		}
	}
	closedir(d);
	close(fd);
	return err;
}

gh_err
gscan_engine_open(const struct gscan_config *cfg,
                  const struct gscan_engine *prev, struct gscan_engine **out,
                  char *detail, size_t detail_len)
{
	struct gscan_engine *e;
	struct stat st;
	unsigned char stamp[32];
	const char *tmpdir = cfg->tmpdir;
	const char *dbdir = cfg->dbdir;
	cl_error_t rc;
	gh_err err = GH_OK;

	*out = NULL;
	if (tmpdir && *tmpdir == '\0')
		tmpdir = NULL;
	if (gscan_is_clamd(dbdir))
		return clamd_open(cfg, prev, tmpdir, out, detail, detail_len);
	if (db_stamp(dbdir, stamp) != GH_OK)
		memset(stamp, 0, sizeof(stamp));
	if (prev && same_config(prev, cfg, tmpdir) &&
	    memcmp(prev->dbstamp, stamp, sizeof(stamp)) == 0)
		return share(prev, out);
	errno = 0;
	if (stat(dbdir, &st) != 0 ||
	    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		snprintf(detail, detail_len, "clamav_db %s: %s", dbdir,
		         errno ? strerror(errno) : "not a directory");
		return GH_ENOTFOUND;
	}
	if (geteuid() == 0) {
		err = db_trusted(cfg, dbdir, detail, detail_len);
		if (err)
			return err;
	}
	pthread_once(&cl_once, do_cl_init);
	if (cl_init_rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: cl_init: %s",
		         cl_strerror(cl_init_rc));
		return GH_EIO;
	}
	e = engine_new(cfg, tmpdir);
	if (e == NULL)
		return GH_ENOMEM;
	e->heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	    CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
	    (cfg->encrypted_doc ? CL_SCAN_HEURISTIC_ENCRYPTED_DOC : 0);
	/* Stamped before loading: a file changed while we load shows up at
	 * the next reload as a change, never the other way round. */
	memcpy(e->dbstamp, stamp, sizeof(stamp));
	e->engine = cl_engine_new();
	if (e->engine == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	err = set_limits(e, detail, detail_len);
	if (err)
		goto cleanup;
	if (e->tmpdir && (rc = cl_engine_set_str(e->engine, CL_ENGINE_TMPDIR,
	                                         e->tmpdir)) != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: clamav_tmp: %s",
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
	rc = cl_load(dbdir, e->engine, &e->sigs, CL_DB_STDOPT);
	if (rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: loading %s: %s", dbdir,
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
	if (e->sigs == 0) {
		snprintf(detail, detail_len, "clamav: no signatures in %s",
		         dbdir);
		err = GH_EINVAL;
		goto cleanup;
	}
	rc = cl_engine_compile(e->engine);
	if (rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: compiling %s: %s", dbdir,
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
	err = libclamav_key(e);
	if (err)
		snprintf(detail, detail_len, "clamav: the engine's key failed");
cleanup:
	if (err) {
		engine_free(e);
		return err;
	}
	*out = e;
	return GH_OK;
}

void
gscan_set_verdict(struct gscan_verdict *v, enum gscan_kind kind,
                  enum gscan_reason reason, const char *name)
{
	v->kind = kind;
	v->reason = reason;
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "");
}

/* The reason of a "Heuristics.Limits.Exceeded.*" alert. */
static enum gscan_reason
limit_reason(const char *name)
{
	static const struct {
		const char *suffix;
		enum gscan_reason r;
	} map[] = {
		{".MaxFileSize", GSCAN_R_SIZE},
		{".MaxScanSize", GSCAN_R_SIZE},
		{".MaxFiles", GSCAN_R_FILES},
		{".MaxRecursion", GSCAN_R_NESTED},
		{".MaxScanTime", GSCAN_R_TIMEOUT},
	};
	const char *rest = name + sizeof(LIMITS_PREFIX) - 1;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(rest, map[i].suffix) == 0)
			return map[i].r;
	return GSCAN_R_LIMIT;
}

void
gscan_classify(int rc, const char *virname, unsigned nerrors,
               const char *errmsg, struct gscan_verdict *v)
{
	char msg[GSCAN_NAME_MAX];
	size_t n;

	switch (rc) {
	case CL_CLEAN:
		if (nerrors == 0) {
			gscan_set_verdict(v, GSCAN_CLEAN, GSCAN_R_NONE, NULL);
			return;
		}
		/* see gscan.h: "clean" after an error means "not scanned" */
		snprintf(msg, sizeof(msg), "libclamav: %s",
		         errmsg && *errmsg ? errmsg : "an error during the scan");
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' ||
		                 msg[n - 1] == '.' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, msg);
		return;
	case CL_VIRUS:
		if (virname == NULL || *virname == '\0') {
			/* libclamav 1.4, a top-level file past max_filesize */
			gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_LIMIT,
			            LIMITS_PREFIX);
		} else if (strncmp(virname, LIMITS_PREFIX,
		                   sizeof(LIMITS_PREFIX) - 1) == 0) {
			gscan_set_verdict(v, GSCAN_UNSCANNABLE,
			                  limit_reason(virname), virname);
		} else if (strncmp(virname, ENCRYPTED_PREFIX,
		                   sizeof(ENCRYPTED_PREFIX) - 1) == 0) {
			gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_ENCRYPTED,
			            virname);
		} else {
			gscan_set_verdict(v, GSCAN_INFECTED, GSCAN_R_NONE,
			                  virname);
		}
		return;
	/* libclamav's own limit errors (without the heuristic, or where it
	 * gives up instead of alerting) */
	case CL_ETIMEOUT:
		gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_TIMEOUT,
		            LIMITS_PREFIX ".MaxScanTime");
		return;
	case CL_EMAXSIZE:
		gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_SIZE,
		            LIMITS_PREFIX ".MaxScanSize");
		return;
	case CL_EMAXFILES:
		gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_FILES,
		            LIMITS_PREFIX ".MaxFiles");
		return;
	case CL_EMAXREC:
		gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_NESTED,
		            LIMITS_PREFIX ".MaxRecursion");
		return;
	default:
		snprintf(msg, sizeof(msg), "libclamav: %s",
		         cl_strerror((cl_error_t)rc));
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, msg);
		return;
	}
}

static void
scan_options(const struct gscan_engine *e, struct cl_scan_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->parse = ~0u;	/* every parser: mail, archives, documents */
	opt->general = CL_SCAN_GENERAL_HEURISTICS;
	opt->heuristic = e->heuristic;
}

/* An input past max_filesize: libclamav 1.4 would say CL_VIRUS, no name. */
static int
too_big(const struct gscan_engine *e, uint64_t size, struct gscan_verdict *v)
{
	if (e->max_filesize <= 0 || size <= (uint64_t)e->max_filesize)
		return 0;
	gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_SIZE,
	            LIMITS_PREFIX ".MaxFileSize");
	return 1;
}

/* Scan a memory range as a map; a libclamav return code. */
static cl_error_t
scan_map(const struct gscan_engine *e, const void *p, size_t len,
         const char *name, const char **vn, struct cl_scan_options *opt)
{
	unsigned long scanned = 0;
	cl_fmap_t *map = cl_fmap_open_memory(p, len);
	cl_error_t rc;

	if (map == NULL)
		return CL_EMEM;
	rc = cl_scanmap_callback(map, name, vn, &scanned, e->engine, opt,
	                         NULL);
	cl_fmap_close(map);
	return rc;
}

void
gscan_fd(const struct gscan_engine *e, int fd, const char *name,
         struct gscan_verdict *v)
{
	struct cl_scan_options opt;
	unsigned long scanned = 0;
	const char *vn = NULL;
	struct stat st;
	cl_error_t rc;
	void *p;

	if (fstat(fd, &st) != 0) {
		char msg[GSCAN_NAME_MAX];

		snprintf(msg, sizeof(msg), "fstat: %s", strerror(errno));
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, msg);
		return;
	}
	if (too_big(e, (uint64_t)st.st_size, v))
		return;
	if (e->clamd) {
		gscan_clamd_fd(e->clamd, clamd_timeout_ms(e), fd, v);
		return;
	}
	scan_options(e, &opt);
	scan_errors = 0;
	scan_error[0] = '\0';
	p = MAP_FAILED;
	/* the size on disk, never a size counted elsewhere: a mapping past
	 * the end of the file would fault */
	if (S_ISREG(st.st_mode) && st.st_size >= GSCAN_MAP_MIN)
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
		         0);
	if (p != MAP_FAILED) {
		rc = scan_map(e, p, (size_t)st.st_size, name, &vn, &opt);
		munmap(p, (size_t)st.st_size);
	} else if (lseek(fd, 0, SEEK_SET) != 0) {
		char msg[GSCAN_NAME_MAX];

		snprintf(msg, sizeof(msg), "seek: %s", strerror(errno));
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, msg);
		return;
	} else {
		rc = cl_scandesc(fd, name, &vn, &scanned, e->engine, &opt);
	}
	gscan_classify(rc, vn, scan_errors, scan_error, v);
}

void
gscan_mem(const struct gscan_engine *e, const void *buf, size_t len,
          struct gscan_verdict *v)
{
	struct cl_scan_options opt;
	const char *vn = NULL;
	cl_error_t rc;

	if (len == 0) {
		gscan_set_verdict(v, GSCAN_CLEAN, GSCAN_R_NONE, NULL);
		return;
	}
	if (too_big(e, len, v))
		return;
	if (e->clamd) {
		gscan_clamd_mem(e->clamd, clamd_timeout_ms(e), buf, len, v);
		return;
	}
	scan_options(e, &opt);
	scan_errors = 0;
	scan_error[0] = '\0';
	rc = scan_map(e, buf, len, NULL, &vn, &opt);
	gscan_classify(rc, vn, scan_errors, scan_error, v);
}

const char *
gscan_kind_name(enum gscan_kind k)
{
	switch (k) {
	case GSCAN_CLEAN:
		return "clean";
	case GSCAN_INFECTED:
		return "infected";
	case GSCAN_UNSCANNABLE:
		return "unscannable";
	default:
		return "error";
	}
}

const char *
gscan_reason_name(enum gscan_reason r)
{
	static const char *const names[] = {
		"", "size", "files", "nested", "timeout", "encrypted", "limit",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "";
}
