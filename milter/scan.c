/*
 * scan.c - the shared libclamav engine and the per-message spool (see
 * scan.h).
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
#include <sys/stat.h>
#include <unistd.h>

#include <clamav.h>
#include <openssl/evp.h>

#include "scan.h"

struct gh_scanner {
	int refs;			/* atomic */
	struct cl_engine *engine;
	char *dbdir;
	char *tmpdir;			/* NULL: libclamav's default */
	unsigned char dbstamp[32];	/* see db_stamp() */
	unsigned sigs;
	int64_t max_size;
	int64_t timeout_ms;
};

/* cl_init() must run once per process before any engine exists. */
static pthread_once_t cl_once = PTHREAD_ONCE_INIT;
static cl_error_t cl_init_rc = CL_SUCCESS;

static void
do_cl_init(void)
{
	cl_init_rc = cl_init(CL_INIT_DEFAULT);
}

static void
scanner_free(struct gh_scanner *s)
{
	if (s->engine)
		cl_engine_free(s->engine);
	free(s->dbdir);
	free(s->tmpdir);
	free(s);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A digest of the database directory: every file's name, inode, size and
 * modification time to the nanosecond, in name order.  libclamav's own
 * cl_statchkdir() compares whole-second mtimes only, so a database
 * rewritten within the second it was loaded would look unchanged.
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
gh_scanner_ref(struct gh_scanner *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void
gh_scanner_unref(struct gh_scanner *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		scanner_free(s);
}

unsigned
gh_scanner_signatures(const struct gh_scanner *s)
{
	return s ? s->sigs : 0;
}

const char *
gh_scanner_dbdir(const struct gh_scanner *s)
{
	return s->dbdir;
}

int
gh_scanner_db_changed(const struct gh_scanner *s, unsigned char now[32])
{
	/* An unreadable directory is not a change: a reload would only fail
	 * on it, and the engine in hand keeps working. */
	if (db_stamp(s->dbdir, now) != GH_OK)
		return 0;
	return memcmp(now, s->dbstamp, sizeof(s->dbstamp)) != 0;
}

static gh_err
set_limits(struct gh_scanner *s, char *detail, size_t detail_len)
{
	/* The whole message is one file to ClamAV, and an attachment inside
	 * it cannot be larger than the message. */
	static const struct {
		enum cl_engine_field f;
		int which;	/* 0: size, 1: time */
	} lim[] = {
		{CL_ENGINE_MAX_SCANSIZE, 0},
		{CL_ENGINE_MAX_FILESIZE, 0},
		{CL_ENGINE_MAX_SCANTIME, 1},
	};

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		long long v = lim[i].which ? s->timeout_ms : s->max_size;
		cl_error_t rc = cl_engine_set_num(s->engine, lim[i].f, v);

		if (rc != CL_SUCCESS) {
			snprintf(detail, detail_len, "clamav: setting limits: %s",
			         cl_strerror(rc));
			return GH_EIO;
		}
	}
	return GH_OK;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The temporary directory: made if missing (one level, mode 0700), and it
 * must be a directory we can write to. */
static gh_err
check_tmpdir(const char *dir, char *detail, size_t detail_len)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(detail, detail_len, "clamav_tmp %s: %s", dir,
		         strerror(errno));
		return errno == EACCES ? GH_EACCES : GH_ENOTFOUND;
	}
	errno = 0;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    access(dir, W_OK | X_OK) != 0) {
		snprintf(detail, detail_len, "clamav_tmp %s: %s", dir,
		         errno ? strerror(errno) : "not a directory");
		return GH_EACCES;
	}
	return GH_OK;
}

gh_err
gh_scanner_open(const char *dbdir, int64_t max_size, int64_t timeout_ms,
                const char *tmpdir, const struct gh_scanner *prev,
                struct gh_scanner **out, char *detail, size_t detail_len)
{
	struct gh_scanner *s;
	struct stat st;
	unsigned char stamp[32];
	cl_error_t rc;
	gh_err err = GH_OK;

	*out = NULL;
	if (tmpdir && *tmpdir == '\0')
		tmpdir = NULL;
	if (tmpdir && (err = check_tmpdir(tmpdir, detail, detail_len)))
		return err;
	if (db_stamp(dbdir, stamp) != GH_OK)
		memset(stamp, 0, sizeof(stamp));
	if (prev && strcmp(prev->dbdir, dbdir) == 0 &&
	    prev->max_size == max_size && prev->timeout_ms == timeout_ms &&
	    same_str(prev->tmpdir, tmpdir) &&
	    memcmp(prev->dbstamp, stamp, sizeof(stamp)) == 0) {
		/* const only to callers: the count is ours to bump */
		struct gh_scanner *same = (struct gh_scanner *)(uintptr_t)prev;

		gh_scanner_ref(same);
		*out = same;
		return GH_OK;
	}
	if (stat(dbdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(detail, detail_len, "clamav_db %s: %s", dbdir,
		         errno ? strerror(errno) : "not a directory");
		return GH_ENOTFOUND;
	}
	pthread_once(&cl_once, do_cl_init);
	if (cl_init_rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: cl_init: %s",
		         cl_strerror(cl_init_rc));
		return GH_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GH_ENOMEM;
	s->refs = 1;
	s->max_size = max_size;
	s->timeout_ms = timeout_ms;
	s->dbdir = strdup(dbdir);
	s->tmpdir = tmpdir ? strdup(tmpdir) : NULL;
	if (s->dbdir == NULL || (tmpdir && s->tmpdir == NULL)) {
		free(s->dbdir);
		free(s->tmpdir);
		free(s);
		return GH_ENOMEM;
	}
	/* Stamped before loading: a file changed while we load shows up at
	 * the next reload as a change, never the other way round. */
	memcpy(s->dbstamp, stamp, sizeof(stamp));
	s->engine = cl_engine_new();
	if (s->engine == NULL) {
		err = GH_ENOMEM;
		goto cleanup;
	}
	err = set_limits(s, detail, detail_len);
	if (err)
		goto cleanup;
	if (s->tmpdir && (rc = cl_engine_set_str(s->engine, CL_ENGINE_TMPDIR,
	                                         s->tmpdir)) != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: clamav_tmp: %s",
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
	rc = cl_load(dbdir, s->engine, &s->sigs, CL_DB_STDOPT);
	if (rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: loading %s: %s", dbdir,
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
	if (s->sigs == 0) {
		snprintf(detail, detail_len, "clamav: no signatures in %s",
		         dbdir);
		err = GH_EINVAL;
		goto cleanup;
	}
	rc = cl_engine_compile(s->engine);
	if (rc != CL_SUCCESS) {
		snprintf(detail, detail_len, "clamav: compiling %s: %s", dbdir,
		         cl_strerror(rc));
		err = GH_EIO;
		goto cleanup;
	}
cleanup:
	if (err) {
		scanner_free(s);
		return err;
	}
	*out = s;
	return GH_OK;
}

void
gh_spool_open(struct gh_spool *sp, const char *dir, uint64_t cap)
{
	memset(sp, 0, sizeof(*sp));
	sp->cap = cap;
	sp->dir = dir;
	sp->fd = -1;
}

/* An anonymous file in sp->dir; -1 and errno on failure. */
static int
spool_file(const char *dir, gh_err *why)
{
	char tmpl[PATH_MAX];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	/* O_TMPFILE needs file-system support (not every one has it). */
	if (snprintf(tmpl, sizeof(tmpl), "%s/gatehouse-milter.XXXXXX", dir) >=
	    (int)sizeof(tmpl)) {
		*why = GH_ETOOBIG;
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		*why = errno == EACCES ? GH_EACCES : GH_EIO;
		return -1;
	}
	unlink(tmpl);
	return fd;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Keep len bytes in memory; 0 if they do not fit under GH_SPOOL_MEM_MAX. */
static int
spool_mem(struct gh_spool *sp, const void *data, size_t len)
{
	size_t need = sp->mlen + len, ncap;
	unsigned char *nm;

	if (need > GH_SPOOL_MEM_MAX)
		return 0;
	if (need > sp->mcap) {
		ncap = sp->mcap ? sp->mcap : 16 * 1024;
		while (ncap < need)
			ncap *= 2;
		if (ncap > GH_SPOOL_MEM_MAX)
			ncap = GH_SPOOL_MEM_MAX;
		nm = realloc(sp->mem, ncap);
		if (nm == NULL)
			return 0;	/* the file, then */
		sp->mem = nm;
		sp->mcap = ncap;
	}
	memcpy(sp->mem + sp->mlen, data, len);
	sp->mlen += len;
	return 1;
}

void
gh_spool_write(struct gh_spool *sp, const void *data, size_t len)
{
	size_t room;

	sp->seen += len;
	if (sp->err || sp->written >= sp->cap)
		return;
	room = (size_t)(sp->cap - sp->written);
	if (len > room)
		len = room;
	if (sp->fd < 0 && spool_mem(sp, data, len)) {
		sp->written += len;
		return;
	}
	if (sp->fd < 0) {
		/* outgrew memory: the file takes what is kept so far */
		sp->fd = spool_file(sp->dir, &sp->open_err);
		if (sp->fd < 0) {
			if (!sp->open_err)
				sp->open_err = GH_EIO;
			sp->err = errno ? errno : EIO;
			return;
		}
		if (sp->mlen && write_all(sp->fd, sp->mem, sp->mlen) != 0) {
			sp->err = errno;
			return;
		}
		free(sp->mem);
		sp->mem = NULL;
		sp->mlen = sp->mcap = 0;
	}
	if (write_all(sp->fd, data, len) != 0) {
		sp->err = errno;
		return;
	}
	sp->written += len;
}

void
gh_spool_header(struct gh_spool *sp, const char *name, const char *value)
{
	const char *p = value;

	gh_spool_write(sp, name, strlen(name));
	gh_spool_write(sp, ":", 1);
	while (*p) {
		size_t n = strcspn(p, "\r\n");

		gh_spool_write(sp, p, n);
		p += n;
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p) {
			gh_spool_write(sp, "\r\n", 2);
			p++;
		}
	}
	gh_spool_write(sp, "\r\n", 2);
}

void
gh_spool_close(struct gh_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	free(sp->mem);
	sp->mem = NULL;
	sp->mlen = sp->mcap = 0;
}

/*
 * A spooled message.  Given a descriptor, libclamav reads the file into an
 * anonymous mapping as large as the file, so every message being scanned
 * would hold a private copy (a 20 MB attachment: 20 MB more of the
 * milter's memory per message in flight).  The spool is mapped read-only
 * instead and scanned as memory: its pages are the page cache's.  The
 * spool is an unnamed O_TMPFILE of this process, so nothing else can
 * truncate it under the mapping.  If it cannot be mapped, the descriptor.
 */
static cl_error_t
scan_spool_file(const struct gh_scanner *s, int fd, const char **vn,
                unsigned long *scanned, struct cl_scan_options *opt)
{
	struct stat st;
	cl_fmap_t *map;
	cl_error_t rc;
	void *p;

	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			map = cl_fmap_open_memory(p, (size_t)st.st_size);
			if (map == NULL) {
				munmap(p, (size_t)st.st_size);
				return CL_EMEM;
			}
			rc = cl_scanmap_callback(map, NULL, vn, scanned,
			                         s->engine, opt, NULL);
			cl_fmap_close(map);
			munmap(p, (size_t)st.st_size);
			return rc;
		}
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		return CL_ESEEK;
	return cl_scandesc(fd, NULL, vn, scanned, s->engine, opt);
}

gh_scan_result
gh_scanner_scan(const struct gh_scanner *s, struct gh_spool *sp,
                char *virname, size_t virname_len)
{
	struct cl_scan_options opt;
	const char *vn = NULL;
	unsigned long scanned = 0;
	cl_error_t rc;

	virname[0] = '\0';
	if (sp->err) {
		snprintf(virname, virname_len, "spool %s failed: %s",
		         sp->open_err ? "file" : "write", strerror(sp->err));
		return GH_SCAN_ERROR;
	}
	memset(&opt, 0, sizeof(opt));
	opt.parse = ~0u;	/* every parser: mail, archives, documents */
	opt.general = CL_SCAN_GENERAL_HEURISTICS;
	if (sp->fd < 0 && sp->mlen == 0) {
		return GH_SCAN_CLEAN;	/* nothing kept (a zero cap) */
	} else if (sp->fd < 0) {
		cl_fmap_t *map = cl_fmap_open_memory(sp->mem, sp->mlen);

		if (map == NULL) {
			snprintf(virname, virname_len, "clamav: out of memory");
			return GH_SCAN_ERROR;
		}
		rc = cl_scanmap_callback(map, NULL, &vn, &scanned, s->engine,
		                         &opt, NULL);
		cl_fmap_close(map);
	} else {
		rc = scan_spool_file(s, sp->fd, &vn, &scanned, &opt);
		if (rc == CL_ESEEK) {
			snprintf(virname, virname_len, "spool seek failed: %s",
			         strerror(errno));
			return GH_SCAN_ERROR;
		}
	}
	if (rc == CL_CLEAN)
		return GH_SCAN_CLEAN;
	if (rc == CL_VIRUS) {
		snprintf(virname, virname_len, "%s", vn ? vn : "unknown");
		return GH_SCAN_INFECTED;
	}
	snprintf(virname, virname_len, "clamav: %s", cl_strerror(rc));
	return GH_SCAN_ERROR;
}
