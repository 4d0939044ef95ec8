/*
 * file.c - reading a whole small file with a size cap (gatehouse/file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "detail_int.h"

/* Open path for reading and check, on the descriptor, that it is a regular
 * file; *st gets its fstat. */
static gh_err
open_regular(int dfd, const char *path, unsigned flags, int *fdp,
             struct stat *st, char *detail, size_t dlen)
{
	int of = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd, e;

	*fdp = -1;
	if (path == NULL || *path == '\0')
		return gh_detail(detail, dlen, GH_EINVAL, "no file name");
	if (!(flags & GH_FILE_FOLLOW))
		of |= O_NOFOLLOW;
	fd = openat(dfd, path, of);
	if (fd < 0) {
		e = errno;
		switch (e) {
		case ENOENT:
		case ENOTDIR:
			return gh_detail(detail, dlen, GH_ENOTFOUND, "%s: %s",
			                 path, strerror(e));
		case ELOOP:
			if (flags & GH_FILE_FOLLOW)
				return gh_detail(detail, dlen, GH_EIO, "%s: too "
				                 "many levels of symbolic links "
				                 "(a loop?)", path);
			return gh_detail(detail, dlen, GH_EACCES, "%s: is a "
			                 "symbolic link (refused: name the file "
			                 "itself)", path);
		case EACCES:
		case EPERM:
			return gh_detail(detail, dlen, GH_EACCES, "%s: %s", path,
			                 strerror(e));
		case ENXIO:             /* a FIFO no one writes to, a socket */
			return gh_detail(detail, dlen, GH_EINVAL, "%s: not a "
			                 "regular file", path);
		default:
			return gh_detail(detail, dlen, GH_EIO, "%s: %s", path,
			                 strerror(e));
		}
	}
	if (fstat(fd, st) != 0) {
		e = errno;
		close(fd);
		return gh_detail(detail, dlen, GH_EIO, "%s: %s", path,
		                 strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a regular "
		                 "file", path);
	}
	if ((flags & GH_FILE_SECRET) && (st->st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		return gh_detail(detail, dlen, GH_EACCES, "%s: mode %04o lets "
		                 "group or others read or change a secret; "
		                 "refused (chmod 0600 it)", path,
		                 (unsigned)(st->st_mode & 07777));
	}
	if ((flags & GH_FILE_SECRET) && st->st_uid != geteuid() &&
	    st->st_uid != 0) {
		close(fd);
		return gh_detail(detail, dlen, GH_EACCES, "%s: owned by uid %ld, "
		                 "not by this process (uid %ld) or root; refused",
		                 path, (long)st->st_uid, (long)geteuid());
	}
	*fdp = fd;
	return GH_OK;
}

/* Read from fd into buf[*got..cap) until EOF or buf is full. */
static gh_err
read_some(int fd, char *buf, size_t cap, size_t *got, const char *path,
          char *detail, size_t dlen)
{
	while (*got < cap) {
		ssize_t r = read(fd, buf + *got, cap - *got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gh_detail(detail, dlen, GH_EIO, "%s: %s", path,
			                 strerror(errno));
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return GH_OK;
}

static gh_err
too_big(const char *path, size_t max, char *detail, size_t dlen)
{
	return gh_detail(detail, dlen, GH_ETOOBIG, "%s: larger than %zu bytes",
	                 path, max);
}

gh_err
gh_file_read_into(const char *path, unsigned flags, void *buf, size_t cap,
                  size_t *len, char *detail, size_t dlen)
{
	struct stat st;
	size_t got = 0;
	int fd = -1;
	gh_err err;

	if (len != NULL)
		*len = 0;
	if (buf == NULL || cap == 0)
		return gh_detail(detail, dlen, GH_EINVAL, "no buffer");
	((char *)buf)[0] = '\0';
	err = open_regular(AT_FDCWD, path, flags, &fd, &st, detail, dlen);
	if (err)
		goto cleanup;
	if (st.st_size > (off_t)(cap - 1)) {
		err = too_big(path, cap - 1, detail, dlen);
		goto cleanup;
	}
	/* cap bytes: one more than may be kept, to see a file that grew */
	err = read_some(fd, buf, cap, &got, path, detail, dlen);
	if (err)
		goto cleanup;
	if (got > cap - 1) {
		err = too_big(path, cap - 1, detail, dlen);
		goto cleanup;
	}
	((char *)buf)[got] = '\0';
	if (len != NULL)
		*len = got;
cleanup:
	if (err)
		((char *)buf)[0] = '\0';
	if (fd >= 0)
		close(fd);
	return err;
}

gh_err
gh_file_read(const char *path, unsigned flags, size_t max, char **out,
             size_t *len, char *detail, size_t dlen)
{
	return gh_file_read_at(AT_FDCWD, path, flags, max, out, len, detail,
	                       dlen);
}

gh_err
gh_file_read_at(int dfd, const char *path, unsigned flags, size_t max,
                char **out, size_t *len, char *detail, size_t dlen)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t got = 0, cap;
	int fd = -1;
	gh_err err;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (max > SIZE_MAX / 2 - 2)
		max = SIZE_MAX / 2 - 2;
	err = open_regular(dfd, path, flags, &fd, &st, detail, dlen);
	if (err)
		goto cleanup;
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		err = too_big(path, max, detail, dlen);
		goto cleanup;
	}
	/* its size, one byte to see it grew, and the NUL */
	cap = (size_t)st.st_size + 2;
	for (;;) {
		nb = realloc(buf, cap);
		if (nb == NULL) {
			err = gh_detail(detail, dlen, GH_ENOMEM, "%s: out of "
			                "memory", path);
			goto cleanup;
		}
		buf = nb;
		err = read_some(fd, buf, cap - 1, &got, path, detail, dlen);
		if (err)
			goto cleanup;
		if (got > max) {
			err = too_big(path, max, detail, dlen);
			goto cleanup;
		}
		if (got < cap - 1)
			break;          /* EOF before the buffer was full */
		/* it grew while being read: more room, still within max */
		cap = (cap - 1 > max / 2) ? max + 2 : (cap - 1) * 2 + 1;
	}
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
	if (len != NULL)
		*len = got;
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}

gh_err
gh_file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return GH_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return GH_OK;
}
