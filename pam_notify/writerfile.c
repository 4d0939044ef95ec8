/*
 * writerfile.c - the writer program's file checked on its descriptor
 * (writerfile.h).  A file of its own so that the gatehouse command links
 * the check without the module's child code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writerfile.h"

int
gp_writer_open(const char *path, gh_err *err, char *detail, size_t dlen)
{
	struct stat sb;
	int fd;

	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*err = errno == ENOENT ? GH_ENOTFOUND : GH_EACCES;
		snprintf(detail, dlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0) {
		*err = GH_EIO;
		snprintf(detail, dlen, "%s: fstat: %s", path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode)) {
		*err = GH_EACCES;
		snprintf(detail, dlen, "%s: not a regular file (a link is not "
		         "followed), refused", path);
	} else if (sb.st_uid != 0) {
		*err = GH_EACCES;
		snprintf(detail, dlen, "%s: owned by uid %ld, not root, refused",
		         path, (long)sb.st_uid);
	} else if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		*err = GH_EACCES;
		snprintf(detail, dlen, "%s: writable by group or others (mode "
		         "%04o), refused", path, (unsigned)(sb.st_mode & 07777));
	} else {
		return fd;
	}
	close(fd);
	return -1;
}
