/*
 * test_file.c - reading a whole file with a size cap (gatehouse/file.h):
 * sizes at and past the cap, a link refused (or followed when asked), a
 * missing file, a directory and a FIFO (which must not block), and the
 * detail that names the file.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gatehouse/file.h"

static char dir[] = "/tmp/gh-test-file-XXXXXX";
static char path[256], link_path[256];

static void
put(const char *name, const char *text, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_read_into(void **state)
{
	char buf[8], detail[512];
	size_t len = 99;

	(void)state;
	put("seven", "1234567", 7);            /* exactly cap - 1 */
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   detail, sizeof(detail)), GH_OK);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "1234567");
	put("eight", "12345678", 8);           /* one past */
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   detail, sizeof(detail)), GH_ETOOBIG);
	assert_non_null(strstr(detail, "eight: larger than 7 bytes"));
	assert_string_equal(buf, "");
	put("empty", "", 0);
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   NULL, 0), GH_OK);
	assert_int_equal(len, 0);
	put("nul", "a\0b", 3);                 /* bytes, not a string */
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   NULL, 0), GH_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 4);
}

static void
test_read_alloc(void **state)
{
	char *buf = (char *)1, detail[512], big[5000];
	size_t len = 0;

	(void)state;
	memset(big, 'x', sizeof(big));
	put("big", big, sizeof(big));
	assert_int_equal(gh_file_read(path, 0, sizeof(big), &buf, &len,
	                              detail, sizeof(detail)), GH_OK);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(buf[len], '\0');
	assert_memory_equal(buf, big, sizeof(big));
	free(buf);
	assert_int_equal(gh_file_read(path, 0, sizeof(big) - 1, &buf, &len,
	                              detail, sizeof(detail)), GH_ETOOBIG);
	assert_null(buf);
	assert_non_null(strstr(detail, "big: larger than 4999 bytes"));
	/* relative to a directory */
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(dfd >= 0);
		assert_int_equal(gh_file_read_at(dfd, "big", 0, sizeof(big), &buf,
		                                 &len, NULL, 0), GH_OK);
		assert_int_equal(len, sizeof(big));
		free(buf);
		close(dfd);
	}
}

static void
test_refused(void **state)
{
	char buf[64], *p = NULL, detail[512];
	size_t len;

	(void)state;
	/* missing */
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   detail, sizeof(detail)), GH_ENOTFOUND);
	assert_non_null(strstr(detail, "/none: "));
	snprintf(path, sizeof(path), "%s/none/deeper", dir);
	assert_int_equal(gh_file_read(path, 0, 64, &p, &len, NULL, 0),
	                 GH_ENOTFOUND);
	assert_null(p);
	/* a link at the last name: refused, followed when asked */
	put("target", "secret", 6);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(gh_file_read_into(link_path, 0, buf, sizeof(buf), &len,
	                                   detail, sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "symbolic link"));
	assert_string_equal(buf, "");
	assert_int_equal(gh_file_read(link_path, 0, 64, &p, &len, NULL, 0),
	                 GH_EACCES);
	assert_int_equal(gh_file_read_into(link_path, GH_FILE_FOLLOW, buf,
	                                   sizeof(buf), &len, NULL, 0), GH_OK);
	assert_string_equal(buf, "secret");
	/* a directory, a FIFO (no writer: must not block) */
	assert_int_equal(gh_file_read_into(dir, 0, buf, sizeof(buf), &len,
	                                   detail, sizeof(detail)), GH_EINVAL);
	assert_non_null(strstr(detail, "not a regular file"));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   NULL, 0), GH_EINVAL);
	/* bad arguments */
	assert_int_equal(gh_file_read_into(path, 0, buf, 0, &len, NULL, 0),
	                 GH_EINVAL);
	assert_int_equal(gh_file_read("", 0, 64, &p, &len, NULL, 0), GH_EINVAL);
}

/* GH_FILE_SECRET: no group or other bits, owned by us or root; a link
 * loop under GH_FILE_FOLLOW is named as one */
static void
test_secret(void **state)
{
	char buf[64], detail[512], loop2[300];
	size_t len;

	(void)state;
	put("key", "k", 1);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(gh_file_read_into(path, GH_FILE_SECRET, buf,
	                                   sizeof(buf), &len, NULL, 0), GH_OK);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(gh_file_read_into(path, GH_FILE_SECRET, buf,
	                                   sizeof(buf), &len, detail,
	                                   sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "chmod 0600"));
	assert_string_equal(buf, "");
	/* the same file is no secret to a plain read */
	assert_int_equal(gh_file_read_into(path, 0, buf, sizeof(buf), &len,
	                                   NULL, 0), GH_OK);
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(gh_file_read_into(path, GH_FILE_SECRET, buf,
		                                   sizeof(buf), &len, detail,
		                                   sizeof(detail)), GH_EACCES);
		assert_non_null(strstr(detail, "owned by uid 65534"));
	}
	snprintf(link_path, sizeof(link_path), "%s/loop1", dir);
	snprintf(loop2, sizeof(loop2), "%s/loop2", dir);
	assert_int_equal(symlink(loop2, link_path), 0);
	assert_int_equal(symlink(link_path, loop2), 0);
	assert_int_equal(gh_file_read_into(link_path, GH_FILE_FOLLOW, buf,
	                                   sizeof(buf), &len, detail,
	                                   sizeof(detail)), GH_EIO);
	assert_non_null(strstr(detail, "loop"));
}

static void
test_write_all(void **state)
{
	char big[100000], back[16];
	size_t len;
	int fd;

	(void)state;
	memset(big, 'w', sizeof(big));
	snprintf(path, sizeof(path), "%s/written", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(gh_file_write_all(fd, big, sizeof(big)), GH_OK);
	assert_int_equal(gh_file_write_all(fd, "", 0), GH_OK);
	close(fd);
	assert_int_equal(gh_file_read_into(path, 0, back, sizeof(back), &len,
	                                   NULL, 0), GH_ETOOBIG);
	assert_int_equal(gh_file_write_all(-1, "x", 1), GH_EIO);
}

/* gh_file_open_program: the file and every directory on the way. */
static void
test_open_program(void **state)
{
	char detail[512], sub[128];
	int fd = -1;

	(void)state;
	assert_int_equal(gh_file_open_program("bin/sh", &fd, detail,
	                                      sizeof(detail)), GH_EINVAL);
	assert_int_equal(fd, -1);
	assert_int_equal(gh_file_open_program("/nonexistent/prog", &fd, detail,
	                                      sizeof(detail)), GH_ENOTFOUND);
	/* /bin is a link in /, which only root can change: followed */
	assert_int_equal(gh_file_open_program("/bin/sh", &fd, detail,
	                                      sizeof(detail)), GH_OK);
	assert_true(fd >= 0);
	close(fd);
	if (geteuid() != 0)
		return;         /* what follows makes root's and others' files */
	/* dir: root's 0700 (mkdtemp) under /tmp (sticky): fine */
	put("prog", "#!/bin/sh\n", 10);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(gh_file_open_program(path, &fd, detail,
	                                      sizeof(detail)), GH_OK);
	close(fd);
	assert_int_equal(chmod(path, 0775), 0);
	assert_int_equal(gh_file_open_program(path, &fd, detail,
	                                      sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "writable by group or others"));
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(gh_file_open_program(path, &fd, detail,
	                                      sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "owned by uid 65534"));
	/* a root-owned program below a directory another uid owns */
	snprintf(sub, sizeof(sub), "%s/theirs", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/prog", sub);
	assert_int_equal(symlink("/bin/sh", path), 0);
	assert_int_equal(gh_file_open_program(path, &fd, detail,
	                                      sizeof(detail)), GH_OK);
	close(fd);
	assert_int_equal(chown(sub, 65534, 65534), 0);
	assert_int_equal(gh_file_open_program(path, &fd, detail,
	                                      sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "owned by uid 65534"));
	assert_int_equal(fd, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_into),
		cmocka_unit_test(test_read_alloc),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_write_all),
		cmocka_unit_test(test_open_program),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
