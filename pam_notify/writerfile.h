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
 * gp_writer_open - gh_file_open_program (gatehouse/file.h): path absolute,
 * every directory on the way changeable by root alone, the file not a
 * link, a regular file owned by root and writable by root alone (anyone
 * who could change it would run code as the store's owner on every
 * login).  Returns the O_PATH descriptor (what was checked is what runs:
 * execveat(fd, "", ..., AT_EMPTY_PATH)), or -1 with *err (GH_EINVAL,
 * GH_ENOTFOUND, GH_EACCES, GH_EIO) and detail (naming path) filled.
 */
int gp_writer_open(const char *path, gh_err *err, char *detail,
                   size_t dlen);

#endif
