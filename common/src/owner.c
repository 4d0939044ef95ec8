/*
 * owner.c - who owns a store, making a store directory for its owner, and
 * becoming that owner.  The rule behind them (docs/security.md): a store is
 * opened by the uid that owns it and nobody else, so root tools such as the
 * gatehouse command and pam_gatehouse's writer drop to that uid first.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "gatehouse/store.h"
#include "detail_int.h"
#include "fsafe_int.h"
#include "store_int.h"

/* Open path's directory without following a link at its end (dfd NULL:
 * only stat it, which another uid may do to a 0700 directory), after
 * checking the directories above it. */
static gh_err
open_checked(const char *path, int *dfd, struct stat *sb, char *detail,
             size_t dlen)
{
	char real[PATH_MAX];
	struct stat first;
	int missing;
	gh_err err;

	if (dfd != NULL)
		*dfd = -1;
	if (path == NULL || *path == '\0')
		return GH_EINVAL;
	/* Whose store is it?  Whatever that uid can change on the way to
	 * it is its own business, so ask first, then check the way with
	 * that answer, then make sure the answer still holds. */
	if (stat(path, &first) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOENT ? GH_ENOTFOUND :
		                 gh_mdb_err(e), "%s: %s", path, strerror(e));
	}
	err = gh_fs_resolve(path, first.st_uid, real, &missing, detail, dlen);
	if (err)
		return err;
	if (lstat(real, sb) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, gh_mdb_err(e), "%s: %s", path,
		                 strerror(e));
	}
	if (!S_ISDIR(sb->st_mode))
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a directory",
		                 path);
	if (sb->st_uid != first.st_uid)
		return gh_detail(detail, dlen, GH_EACCES, "%s: changed owner "
		                 "while looked at", path);
	if (dfd == NULL)
		return GH_OK;
	*dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0) {
		int e = errno;

		return gh_detail(detail, dlen, e == ENOTDIR ? GH_EINVAL :
		                 gh_mdb_err(e), "%s: %s", path, strerror(e));
	}
	if (fstat(*dfd, sb) != 0 || sb->st_uid != first.st_uid) {
		close(*dfd);
		*dfd = -1;
		return gh_detail(detail, dlen, GH_EACCES, "%s: changed while "
		                 "looked at", path);
	}
	return GH_OK;
}

gh_err
gh_store_owner(const char *path, uid_t *uid, gid_t *gid, char *detail,
               size_t dlen)
{
	struct stat sb;
	gh_err err = open_checked(path, NULL, &sb, detail, dlen);

	if (err)
		return err;
	if (uid)
		*uid = sb.st_uid;
	if (gid)
		*gid = sb.st_gid;
	return GH_OK;
}

/* Does the directory hold anything besides . and ..? */
static int
dir_is_empty(int dfd)
{
	int fd = dup(dfd);
	DIR *d;
	struct dirent *de;
	int empty = 1;

	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

gh_err
gh_store_prepare(const char *path, uid_t uid, gid_t gid, char *detail,
                 size_t dlen)
{
	struct stat sb;
	int dfd = -1;
	gh_err err;

	if (geteuid() != 0)
		return gh_detail(detail, dlen, GH_EACCES, "%s: only root gives "
		                 "a store directory to another user", path);
	err = open_checked(path, &dfd, &sb, detail, dlen);
	if (err == GH_ENOTFOUND) {
		char real[PATH_MAX];
		int missing = 0;

		/* mkdir 0700 as root, by the real path found through
		 * directories only root can change: nobody else can reach
		 * it until it is handed over. */
		err = gh_fs_resolve(path, 0, real, &missing, detail, dlen);
		if (err != GH_ENOTFOUND || !missing)
			return err ? err : GH_EEXIST;
		if (mkdir(real, 0700) != 0 && errno != EEXIST) {
			int e = errno;

			return gh_detail(detail, dlen, gh_mdb_err(e), "%s: %s",
			                 path, strerror(e));
		}
		err = open_checked(path, &dfd, &sb, detail, dlen);
	}
	if (err)
		return err;
	if (sb.st_uid != uid && sb.st_uid != 0 && !dir_is_empty(dfd)) {
		err = gh_detail(detail, dlen, GH_EEXIST, "%s: already a store "
		                "of uid %ld; move it away, or check its files "
		                "and chown it yourself", path, (long)sb.st_uid);
		goto done;
	}
	if (sb.st_uid != uid && sb.st_uid == 0 && !dir_is_empty(dfd)) {
		err = gh_detail(detail, dlen, GH_EEXIST, "%s: already a store "
		                "of root's; move it away, or chown -R it to the "
		                "new owner yourself", path);
		goto done;
	}
	if ((sb.st_uid != uid || sb.st_gid != gid) &&
	    fchown(dfd, uid, gid) != 0) {
		int e = errno;

		err = gh_detail(detail, dlen, gh_mdb_err(e), "%s: chown: %s",
		                path, strerror(e));
		goto done;
	}
	if ((sb.st_mode & 07777) != 0700 && fchmod(dfd, 0700) != 0) {
		int e = errno;

		err = gh_detail(detail, dlen, gh_mdb_err(e), "%s: chmod: %s",
		                path, strerror(e));
		goto done;
	}
	err = GH_OK;
done:
	close(dfd);
	return err;
}

gh_err
gh_store_become_owner(const char *path, char *detail, size_t dlen)
{
	uid_t uid;
	gid_t gid;
	gh_err err;

	if (geteuid() != 0)
		return GH_OK;
	err = gh_store_owner(path, &uid, &gid, detail, dlen);
	if (err)
		return err;
	if (uid == 0)
		return GH_OK;
	/* The owner's own primary group, not whatever group the directory
	 * was given: that is the owner's to set (and may be root's, gid 0).
	 * An owner the password database does not know has no group we can
	 * trust: refuse rather than guess. */
	{
		struct passwd *pw;

		errno = 0;
		pw = getpwuid(uid);
		if (pw == NULL)
			return gh_detail(detail, dlen, GH_EACCES, "%s: its owner, "
			                 "uid %ld, has no passwd entry (%s); not "
			                 "becoming it with the directory's group",
			                 path, (long)uid, errno ? strerror(errno) :
			                 "no such user");
		gid = pw->pw_gid;
	}
	/* Groups first: once the uid is not root they cannot change. */
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return gh_detail(detail, dlen, GH_EACCES, "%s: cannot become "
		                 "its owner %ld:%ld: %s", path, (long)uid,
		                 (long)gid, strerror(errno));
	if (setuid(0) == 0 || geteuid() == 0)
		return gh_detail(detail, dlen, GH_EACCES, "%s: root could be "
		                 "had back after becoming uid %ld", path,
		                 (long)uid);
	return GH_OK;
}
