/*
 * fsafe.c - deciding whether a store directory and the files in it are safe
 * to open, and opening them without following links.
 *
 * The rule (docs/security.md): no process opens a file that a less trusted
 * uid can write or replace.  A path is safe for this process when every
 * directory on the way to it can be changed only by root or by this
 * process's uid (a sticky directory such as /tmp counts: others cannot
 * rename or remove what is ours in it), and the store directory itself is
 * owned by this uid and writable by it alone.  Then nobody else can swap a
 * name between our check and LMDB's open, which goes by name and follows
 * links.  The files' own checks (regular, ours, one link) are the second
 * line, for a store that was group-writable under an older layout and may
 * hold what someone planted then.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detail_int.h"
#include "fsafe_int.h"
#include "store_int.h"

/* A directory on the way to the store: only root or we may change it. */
static gh_err
judge_ancestor(const char *p, const struct stat *st, uid_t me, uid_t also,
               char *detail, size_t dlen);

static gh_err
check_ancestor(const char *p, uid_t me, uid_t also, char *detail, size_t dlen)
{
	struct stat sb;

	if (lstat(p, &sb) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, gh_mdb_err(e), "%s: %s", p,
		                 strerror(e));
	}
	return judge_ancestor(p, &sb, me, also, detail, dlen);
}

static gh_err
judge_ancestor(const char *p, const struct stat *st, uid_t me, uid_t also,
               char *detail, size_t dlen)
{
	struct stat sb = *st;

	if (!S_ISDIR(sb.st_mode))
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a directory",
		                 p);
	if (sb.st_uid != 0 && sb.st_uid != me && sb.st_uid != also)
		return gh_detail(detail, dlen, GH_EACCES, "%s: owned by uid %ld, "
		                 "neither root nor this process (uid %ld): it "
		                 "could replace what is in it", p, (long)sb.st_uid,
		                 (long)me);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX))
		return gh_detail(detail, dlen, GH_EACCES, "%s: writable by group "
		                 "or others (mode %04o): they could replace what "
		                 "is in it", p, (unsigned)(sb.st_mode & 07777));
	return GH_OK;
}

gh_err
gh_fs_resolve(const char *path, uid_t also, char *real, int *missing,
              char *detail, size_t dlen)
{
	char rest[PATH_MAX], cur[PATH_MAX], next[PATH_MAX], link[PATH_MAX];
	uid_t me = geteuid();
	struct stat cur_sb;
	int links = 0, have_cur;
	gh_err err;

	*missing = 0;
	if (path == NULL || *path == '\0')
		return GH_EINVAL;
	if (path[0] == '/') {
		if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
			return GH_ETOOBIG;
	} else {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(rest, sizeof(rest), "%s/%s", cwd, path) >=
		    (int)sizeof(rest))
			return GH_ETOOBIG;
	}
	strcpy(cur, "/");
	have_cur = 0;
	/* Take rest apart one name at a time, from the front. */
	for (;;) {
		char *p = rest, *comp, *slash;
		struct stat sb;
		int last;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		comp = p;
		slash = strchr(comp, '/');
		if (slash != NULL)
			*slash = '\0';
		/* what follows this name, kept for the next turn */
		p = slash ? slash + 1 : comp + strlen(comp);
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (strcmp(comp, ".") == 0) {
			memmove(rest, p, strlen(p) + 1);
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			char *s = strrchr(cur, '/');

			if (s == cur)
				cur[1] = '\0';
			else if (s != NULL)
				*s = '\0';
			have_cur = 0;
			memmove(rest, p, strlen(p) + 1);
			continue;
		}
		/* We are about to trust a name in cur: cur must be a
		 * directory that only root, we or the store's owner can
		 * change. */
		/* (cur's stat is the one taken a step ago, when it was
		 * next: one lstat a name, not two) */
		err = have_cur ? judge_ancestor(cur, &cur_sb, me, also, detail,
		                                dlen) :
		                 check_ancestor(cur, me, also, detail, dlen);
		if (err)
			return err;
		if (snprintf(next, sizeof(next), "%s%s%s", cur,
		             strcmp(cur, "/") == 0 ? "" : "/", comp) >=
		    (int)sizeof(next))
			return GH_ETOOBIG;
		if (lstat(next, &sb) != 0) {
			int e = errno;

			if (e == ENOENT && last) {
				strcpy(real, next);
				*missing = 1;
			}
			return gh_detail(detail, dlen, e == ENOENT ?
			                 GH_ENOTFOUND : gh_mdb_err(e), "%s: %s",
			                 path, strerror(e));
		}
		if (S_ISLNK(sb.st_mode)) {
			/* A link in a directory nobody else can change is the
			 * owner's or root's own: follow it, and check what it
			 * leads through the same way.  In a sticky directory
			 * others can write (/tmp), anyone may have made it:
			 * only a link of root's, ours or the owner's will do
			 * (what fs.protected_symlinks would say, whether or
			 * not it is on). */
			ssize_t n;
			char tmp[PATH_MAX];
			struct stat dsb;

			if (sb.st_uid != 0 && sb.st_uid != me &&
			    sb.st_uid != also && lstat(cur, &dsb) == 0 &&
			    (dsb.st_mode & (S_IWGRP | S_IWOTH)))
				return gh_detail(detail, dlen, GH_EACCES, "%s: a "
				                 "link of uid %ld in %s, which "
				                 "others can write; not followed",
				                 path, (long)sb.st_uid, cur);
			n = readlink(next, link, sizeof(link) - 1);

			if (n < 0 || ++links > 40)
				return gh_detail(detail, dlen, GH_EINVAL,
				                 "%s: too many links", path);
			link[n] = '\0';
			if (snprintf(tmp, sizeof(tmp), "%s/%s", link, p) >=
			    (int)sizeof(tmp))
				return GH_ETOOBIG;
			strcpy(rest, tmp);
			if (link[0] == '/') {
				strcpy(cur, "/");
				have_cur = 0;
			}
			continue;
		}
		strcpy(cur, next);
		cur_sb = sb;
		have_cur = 1;
		memmove(rest, p, strlen(p) + 1);
	}
	strcpy(real, cur);
	return GH_OK;
}

gh_err
gh_fs_check_dir(int dfd, const char *path, uid_t owner, int fix,
                char *detail, size_t dlen)
{
	struct stat sb;

	if (fstat(dfd, &sb) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, gh_mdb_err(e), "%s: %s", path,
		                 strerror(e));
	}
	if (!S_ISDIR(sb.st_mode))
		return gh_detail(detail, dlen, GH_EINVAL, "%s: not a directory",
		                 path);
	if (sb.st_uid != owner)
		return gh_detail(detail, dlen, GH_EACCES, "%s: owned by uid %ld, "
		                 "not by this process (uid %ld); a store is opened "
		                 "only by its owner (docs/security.md)", path,
		                 (long)sb.st_uid, (long)owner);
	if ((sb.st_mode & 07777) == 0700)
		return GH_OK;
	if (!fix && (sb.st_mode & (S_IWGRP | S_IWOTH)))
		return gh_detail(detail, dlen, GH_EACCES, "%s: writable by group "
		                 "or others (mode %04o); `gatehouse store init` "
		                 "checks what is in it and makes it 0700", path,
		                 (unsigned)(sb.st_mode & 07777));
	if (fix && fchmod(dfd, 0700) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, gh_mdb_err(e), "%s: chmod: %s",
		                 path, strerror(e));
	}
	return GH_OK;
}

/* What a store file must be: a regular file of ours, one link. */
static gh_err
check_file(const struct stat *sb, const char *path, const char *name,
           uid_t owner, char *detail, size_t dlen)
{
	if (!S_ISREG(sb->st_mode))
		return gh_detail(detail, dlen, GH_EACCES, "%s/%s: not a regular "
		                 "file (a link, FIFO or device planted there?); "
		                 "refusing to open it: look at it, then remove it",
		                 path, name);
	if (sb->st_uid != owner)
		return gh_detail(detail, dlen, GH_EACCES, "%s/%s: owned by uid "
		                 "%ld, not by the store's owner (uid %ld); "
		                 "refusing to open it: look at it, then remove it "
		                 "or chown it to the owner", path, name,
		                 (long)sb->st_uid, (long)owner);
	if (sb->st_nlink != 1)
		return gh_detail(detail, dlen, GH_EACCES, "%s/%s: has %ld hard "
		                 "links; refusing to open it: look at the other "
		                 "names, then copy it to a file of its own", path,
		                 name, (long)sb->st_nlink);
	return GH_OK;
}

/*
 * openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600) and
 * fstat it into *sb: a link is refused (GH_EACCES), and so is, later, a
 * FIFO, which O_NONBLOCK keeps from hanging us in open() before fstat can
 * refuse it.  With absent_ok, a missing name is GH_OK with *fdp -1.
 */
static gh_err
open_stat(int dfd, const char *path, const char *name, int flags,
          int absent_ok, int *fdp, struct stat *sb, char *detail,
          size_t dlen)
{
	int fd, e;

	*fdp = -1;
	fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	            0600);
	if (fd < 0) {
		e = errno;
		if (e == ENOENT && absent_ok)
			return GH_OK;
		if (e == ELOOP)
			return gh_detail(detail, dlen, GH_EACCES, "%s/%s: a "
			                 "symbolic link; refusing to follow it",
			                 path, name);
		return gh_detail(detail, dlen, gh_mdb_err(e), "%s/%s: %s", path,
		                 name, strerror(e));
	}
	if (fstat(fd, sb) != 0) {
		e = errno;
		close(fd);
		return gh_detail(detail, dlen, gh_mdb_err(e), "%s/%s: %s", path,
		                 name, strerror(e));
	}
	*fdp = fd;
	return GH_OK;
}

gh_err
gh_fs_open_file(int dfd, const char *path, const char *name, int flags,
                uid_t owner, int *out, char *detail, size_t dlen)
{
	struct stat sb;
	gh_err err;
	int fd;

	*out = -1;
	err = open_stat(dfd, path, name, flags, 0, &fd, &sb, detail, dlen);
	if (err)
		return err;
	err = check_file(&sb, path, name, owner, detail, dlen);
	if (err) {
		close(fd);
		return err;
	}
	/* Ours alone, whatever an older layout or the umask made it (the
	 * owner's own bits are left as they are). */
	if ((sb.st_mode & 07077) != 0 &&
	    fchmod(fd, sb.st_mode & 0700) != 0) {
		int e = errno;

		close(fd);
		return gh_detail(detail, dlen, gh_mdb_err(e), "%s/%s: chmod: %s",
		                 path, name, strerror(e));
	}
	*out = fd;
	return GH_OK;
}

gh_err
gh_fs_vet_file(int dfd, const char *path, const char *name, uid_t owner,
               char *detail, size_t dlen)
{
	struct stat sb;
	gh_err err;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		int e = errno;

		if (e == ENOENT)
			return GH_OK;  /* LMDB creates it, in our 0700 dir */
		return gh_detail(detail, dlen, gh_mdb_err(e), "%s/%s: %s", path,
		                 name, strerror(e));
	}
	err = check_file(&sb, path, name, owner, detail, dlen);
	if (err)
		return err;
	/* Not open() and close(): closing any descriptor of lock.mdb drops
	 * the fcntl locks another handle's LMDB holds on it in this process.
	 * By name is safe here: the directory is ours alone (checked first),
	 * so the name is still the regular file just checked. */
	if ((sb.st_mode & 07077) != 0 &&
	    fchmodat(dfd, name, sb.st_mode & 0700, 0) != 0) {
		int e = errno;

		return gh_detail(detail, dlen, gh_mdb_err(e), "%s/%s: chmod: %s",
		                 path, name, strerror(e));
	}
	return GH_OK;
}

gh_err
gh_fs_check_file(int dfd, const char *path, const char *name, uid_t owner,
                 char *detail, size_t dlen)
{
	struct stat sb;
	gh_err err;
	int fd;

	err = open_stat(dfd, path, name, O_RDONLY, 1, &fd, &sb, detail, dlen);
	if (err || fd < 0)
		return err;     /* absent is fine */
	close(fd);
	err = check_file(&sb, path, name, owner, detail, dlen);
	if (err)
		return err;
	if ((sb.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR))
		return gh_detail(detail, dlen, GH_EACCES, "%s/%s: mode %04o: "
		                 "its owner cannot read and write it", path,
		                 name, (unsigned)(sb.st_mode & 07777));
	return GH_OK;
}
