/*
 * writerfile.c - the writer program's file checked on its descriptor
 * (writerfile.h).  A file of its own so that the gatehouse command links
 * the check without the module's child code.
 */
#include "gatehouse/file.h"
#include "writerfile.h"

int
gp_writer_open(const char *path, gh_err *err, char *detail, size_t dlen)
{
	int fd = -1;

	/* the whole path: a directory on the way that another uid can
	 * change would let it choose what runs, whatever the last name's
	 * own owner and mode say */
	*err = gh_file_open_program(path, &fd, detail, dlen);
	return *err ? -1 : fd;
}
