/*
 * writerfile.h - the writer program as a file: opened without following a
 * link and checked on its descriptor (the module's child before exec, and
 * `gatehouse config check`, which says the same thing before a login does).
 */
#ifndef GP_WRITERFILE_H
#define GP_WRITERFILE_H

#include <stddef.h>

#include "gatehouse/err.h"

/*
 * gp_writer_open - open path with O_PATH | O_NOFOLLOW | O_CLOEXEC and
 * check the descriptor: a regular file, owned by root, writable by root
 * alone (anyone who could write it would run code as the store's owner on
 * every login).  Returns the descriptor (what was checked is what runs:
 * execveat(fd, "", ..., AT_EMPTY_PATH)), or -1 with *err (GH_ENOTFOUND,
 * GH_EACCES, GH_EIO) and detail (naming path) filled.
 */
int gp_writer_open(const char *path, gh_err *err, char *detail,
                   size_t dlen);

#endif
