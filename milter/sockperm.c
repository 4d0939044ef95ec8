/*
 * sockperm.c - who may connect to the milter's unix socket.
 *
 * Anyone who can connect can ask for a DKIM signature: the milter protocol
 * lets the client claim any connecting host, 127.0.0.1 included.  So the
 * socket must be reachable by the MTA and nobody else (docs/security.md).
 * The MTA's own group (`[milter] socket_group`, postfix) is the one group
 * that holds only the MTA: the socket's directory gets that group and the
 * setgid bit, so the socket libmilter creates in it inherits the group
 * without the milter's user being a member of it, and a socket mode that
 * grants "other" anything is refused.  libmilter gives us no descriptor
 * of an accepted connection, so SO_PEERCRED cannot be checked; the file
 * system does the gating.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockperm.h"

/* The directory part of path (which has a '/'), into dir. */
static int
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(dir, len, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int
gm_msock_group(const char *name, gid_t *gid, char *why, size_t wlen)
{
	struct group *gr;

	*gid = (gid_t)-1;
	if (name == NULL || *name == '\0')
		return 0;
	gr = getgrnam(name);
	if (gr == NULL) {
		snprintf(why, wlen, "[milter] socket_group: no group '%s' (the "
		         "MTA's own group: postfix for Postfix, smmsp for "
		         "Sendmail)", name);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

int
gm_msock_prepare_dir(const char *sock_path, const char *user, gid_t gid,
                     char *why, size_t wlen)
{
	char dir[PATH_MAX];
	struct passwd *pw;
	struct stat sb;
	uid_t uid = geteuid();
	int fd = -1, rc = -1;

	if (dir_of(sock_path, dir, sizeof(dir)) != 0) {
		snprintf(why, wlen, "[milter] socket: path too long");
		return -1;
	}
	if (lstat(dir, &sb) == 0) {
		/* The admin's (or the package's): left as it is, if only
		 * root or the milter's user can change what is in it. */
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(why, wlen, "%s: not a directory (a link?)", dir);
			return -1;
		}
		uid_t mine = geteuid();

		if (user != NULL && *user != '\0' && geteuid() == 0 &&
		    (pw = getpwnam(user)) != NULL)
			mine = pw->pw_uid;
		if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
			snprintf(why, wlen, "%s: writable by group or others "
			         "(mode %04o); the socket needs a directory only "
			         "the milter's user can change", dir,
			         (unsigned)(sb.st_mode & 07777));
			return -1;
		}
		if (sb.st_uid != 0 && sb.st_uid != mine &&
		    sb.st_uid != geteuid()) {
			snprintf(why, wlen, "%s: owned by uid %ld, neither root "
			         "nor the milter's user", dir, (long)sb.st_uid);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, wlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (user != NULL && *user != '\0' && geteuid() == 0) {
		pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(why, wlen, "[milter] user: no user '%s'", user);
			return -1;
		}
		uid = pw->pw_uid;
	}
	/* Made by us (root, before dropping privileges): the milter's user
	 * owns it, the MTA's group may enter it, nobody else can. */
	if (mkdir(dir, 0700) != 0) {
		snprintf(why, wlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, uid, gid) != 0 ||
	    fchmod(fd, gid == (gid_t)-1 ? 0700 : 02750) != 0) {
		snprintf(why, wlen, "cannot set up %s: %s", dir, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

int
gm_msock_check_mode(mode_t mode, char *why, size_t wlen)
{
	if (mode & 0007) {
		snprintf(why, wlen, "[milter] socket_mode %04o lets every local "
		         "user connect and have mail signed; use 0660 with "
		         "socket_group", (unsigned)mode);
		return -1;
	}
	return 0;
}

int
gm_msock_secure(const char *sock_path, mode_t mode, gid_t gid, char *why,
                size_t wlen)
{
	struct stat sb;

	/* The socket is in a directory only the milter's user can write (or
	 * root's), so its name cannot have been swapped; still, never follow
	 * a link when changing the group. */
	if (gid != (gid_t)-1 &&
	    fchownat(AT_FDCWD, sock_path, (uid_t)-1, gid,
	             AT_SYMLINK_NOFOLLOW) != 0) {
		char dir[PATH_MAX];

		if (dir_of(sock_path, dir, sizeof(dir)) != 0)
			snprintf(dir, sizeof(dir), "its directory");
		snprintf(why, wlen, "cannot give %s the MTA's group (%ld): %s; "
		         "make %s setgid and of that group (install -d -o USER "
		         "-g postfix -m 2750 %s), or start the milter as root",
		         sock_path, (long)gid, strerror(errno), dir, dir);
		return -1;
	}
	if (chmod(sock_path, mode) != 0) {
		snprintf(why, wlen, "chmod %s: %s", sock_path, strerror(errno));
		return -1;
	}
	if (lstat(sock_path, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
		snprintf(why, wlen, "%s: not the socket just made", sock_path);
		return -1;
	}
	return 0;
}
