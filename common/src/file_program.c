/*
 * file_program.c - gh_file_open_program (gatehouse/file.h): a program root
 * will have run, opened by the rule stores are opened by (fsafe.c).  A
 * file of its own: the rest of file.c links without the store's code
 * (the DKIM test tools use the library with libcrypto alone).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/file.h"
#include "detail_int.h"
#include "fsafe_int.h"

gh_err
gh_file_open_program(const char *path, int *fd, char *detail, size_t dlen)
{
	char real[PATH_MAX];
	struct stat sb;
	int missing = 0, f;
	gh_err err;

	*fd = -1;
	if (path == NULL || path[0] != '/')
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not an absolute "
		                 "path", path != NULL ? path : "(none)");
	/* also = 0: only root's directories (or sticky ones) on the way,
	 * whoever runs this */
	err = gh_fs_resolve(path, 0, real, &missing, detail, dlen);
	if (err)
		return err;
	f = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOENT ? GH_ENOTFOUND :
		                 GH_EACCES, "%s: %s", path, strerror(e));
	}
	if (fstat(f, &sb) != 0) {
		int e = errno;

		err = gh_detail(detail, dlen, GH_EIO, "%s: fstat: %s", path,
		                strerror(e));
	} else if (!S_ISREG(sb.st_mode)) {
		err = gh_detail(detail, dlen, GH_EACCES, "%s: not a regular file "
		                "(a link is not followed), refused", path);
	} else if (sb.st_uid != 0) {
		err = gh_detail(detail, dlen, GH_EACCES, "%s: owned by uid %ld, "
		                "not root, refused", path, (long)sb.st_uid);
	} else if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		err = gh_detail(detail, dlen, GH_EACCES, "%s: writable by group "
		                "or others (mode %04o), refused", path,
		                (unsigned)(sb.st_mode & 07777));
	} else {
		*fd = f;
		return GH_OK;
	}
	close(f);
	return err;
}
