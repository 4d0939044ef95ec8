/*
 * scan.c - the per-message spool and its scan (see scan.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gatehouse/file.h"
#include "mcfg.h"
#include "scan.h"

void
gm_spool_open(struct gm_spool *sp, const char *dir, uint64_t cap)
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

/* Keep len bytes in memory; 0 if they do not fit under GH_SPOOL_MEM_MAX. */
static int
spool_mem(struct gm_spool *sp, const void *data, size_t len)
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
gm_spool_write(struct gm_spool *sp, const void *data, size_t len)
{
	size_t room;

	sp->seen += len;
	if (sp->err || sp->written >= sp->cap)
		return;
	room = (size_t)(sp->cap - sp->written);
	if (len > room)
		len = room;
	if (sp->md && !sp->md_err && len > 0 &&
	    EVP_DigestUpdate(sp->md, data, len) != 1)
		sp->md_err = 1;
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
		if (sp->mlen && gh_file_write_all(sp->fd, sp->mem, sp->mlen) != GH_OK) {
			sp->err = errno;
			return;
		}
		free(sp->mem);
		sp->mem = NULL;
		sp->mlen = sp->mcap = 0;
	}
	if (gh_file_write_all(sp->fd, data, len) != GH_OK) {
		sp->err = errno;
		return;
	}
	sp->written += len;
}

void
gm_spool_header(struct gm_spool *sp, const char *name, const char *value)
{
	const char *p = value;

	gm_spool_write(sp, name, strlen(name));
	gm_spool_write(sp, ":", 1);
	while (*p) {
		size_t n = strcspn(p, "\r\n");

		gm_spool_write(sp, p, n);
		p += n;
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p) {
			gm_spool_write(sp, "\r\n", 2);
			p++;
		}
	}
	gm_spool_write(sp, "\r\n", 2);
}

void
gm_spool_hash(struct gm_spool *sp)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		sp->md_err = 1;
		return;
	}
	sp->md = md;
}

int
gm_spool_digest(struct gm_spool *sp, unsigned char out[32])
{
	unsigned int n = 0;

	/* a spool that failed is scanned as an ERROR, never cached */
	if (sp->md == NULL || sp->md_err || sp->err)
		return -1;
	if (EVP_DigestFinal_ex(sp->md, out, &n) != 1 || n != 32) {
		sp->md_err = 1;
		return -1;
	}
	sp->md_err = 1;		/* finished: no second digest */
	return 0;
}

void
gm_spool_close(struct gm_spool *sp)
{
	EVP_MD_CTX_free(sp->md);
	sp->md = NULL;
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	free(sp->mem);
	sp->mem = NULL;
	sp->mlen = sp->mcap = 0;
}

void
gm_spool_scan(const struct gscan_engine *e, struct gm_spool *sp,
              struct gscan_verdict *v)
{
	if (sp->err) {
		v->kind = GSCAN_ERROR;
		v->reason = GSCAN_R_NONE;
		snprintf(v->name, sizeof(v->name), "spool %s failed: %s",
		         sp->open_err ? "file" : "write", strerror(sp->err));
		return;
	}
	if (sp->fd >= 0)
		gscan_fd(e, sp->fd, NULL, v);
	else
		gscan_mem(e, sp->mem, sp->mlen, v);	/* 0 bytes: clean */
}

gm_scan_act
gm_scan_policy(const struct gm_mcfg *cfg, const struct gscan_verdict *v)
{
	gm_onerr act;

	switch (v->kind) {
	case GSCAN_CLEAN:
		return GH_SCAN_ACCEPT;
	case GSCAN_INFECTED:
		return GH_SCAN_REJECT;
	case GSCAN_UNSCANNABLE:
		act = v->reason == GSCAN_R_TIMEOUT ? cfg->on_scan_error :
		    cfg->on_scan_limit;
		break;
	default:
		act = cfg->on_scan_error;
		break;
	}
	return act == GH_ONERR_ACCEPT ? GH_SCAN_ACCEPT :
	    act == GH_ONERR_REJECT ? GH_SCAN_REJECT : GH_SCAN_TEMPFAIL;
}

/* The temporary directory: made if missing (one level, mode 0700), and it
 * must be a directory we can write to. */
gh_err
gm_scan_check_tmpdir(const char *dir, char *detail, size_t detail_len)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;

		snprintf(detail, detail_len, "clamav_tmp %s: %s", dir,
		         strerror(e));
		return e == EACCES ? GH_EACCES : GH_ENOTFOUND;
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
