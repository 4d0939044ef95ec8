/*
 * test_store.c - unit tests of the store: open/create, modes, records,
 * scans, counters, growth on MDB_MAP_FULL, the write-lock deadline, fork and
 * read-only rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../store_fixture.h"

#include "gatehouse/store.h"
#include "gatehouse/queue.h"

static void
test_open_missing(void **state)
{
	struct gh_store *st = NULL;
	struct gh_store_opts o = {.path = "/nonexistent/gatehouse/store"};
	char detail[256];

	(void)state;
	assert_int_equal(gh_store_open(&st, &o, detail, sizeof(detail)),
	                 GH_ENOTFOUND);
	assert_null(st);
	assert_non_null(strstr(detail, "/nonexistent/gatehouse/store"));
}

static void
test_modes(void **state)
{
	struct gh_fx *f = *state;
	char p[160];
	struct stat sb;
	mode_t old = umask(077);   /* a hostile umask must not matter */
	struct gh_store *st;
	struct gh_store_opts o = {.flags = GH_STORE_CREATE};
	char path2[128];

	snprintf(path2, sizeof(path2), "%s/other", f->dir);
	o.path = path2;
	assert_int_equal(gh_store_open(&st, &o, NULL, 0), GH_OK);
	umask(old);
	assert_int_equal(stat(path2, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(p, sizeof(p), "%s/data.mdb", path2);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/lock.mdb", path2);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/wlock", path2);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	gh_store_close(st);
}

/* Open f->path (made by the fixture, then closed) after hostile_fn
 * changed something in it; the result and the detail's text. */
static gh_err
reopen(struct gh_fx *f, unsigned flags, char *detail, size_t dlen)
{
	struct gh_store *st = NULL;
	struct gh_store_opts o = {.path = f->path, .flags = flags,
	                          .lock_timeout_ms = 100};
	gh_err err = gh_store_open(&st, &o, detail, dlen);

	gh_store_close(st);
	return err;
}

static void
plant(struct gh_fx *f, const char *name, const char *kind)
{
	char p[160], t[160];

	snprintf(p, sizeof(p), "%s/%s", f->path, name);
	snprintf(t, sizeof(t), "%s/victim", f->dir);
	assert_int_equal(unlink(p) == 0 || errno == ENOENT, 1);
	if (strcmp(kind, "symlink") == 0) {
		FILE *v = fopen(t, "w");

		assert_non_null(v);
		fputs("untouched\n", v);
		fclose(v);
		assert_int_equal(symlink(t, p), 0);
	} else if (strcmp(kind, "fifo") == 0) {
		assert_int_equal(mkfifo(p, 0600), 0);
	} else {   /* hardlink */
		FILE *v = fopen(t, "w");

		assert_non_null(v);
		fputs("untouched\n", v);
		fclose(v);
		assert_int_equal(link(t, p), 0);
	}
}

/* Whatever was planted in the store, the open is refused, quickly (a FIFO
 * must not block it), and the file the link pointed at is unchanged. */
static void
test_planted_files(void **state)
{
	struct gh_fx *f = *state;
	static const char *const names[] = {"wlock", "lock.mdb", "data.mdb"};
	static const char *const kinds[] = {"symlink", "fifo", "hardlink"};
	char detail[512], t[160], buf[32];

	gh_store_close(f->st);
	f->st = NULL;
	snprintf(t, sizeof(t), "%s/victim", f->dir);
	for (size_t i = 0; i < 3; i++) {
		for (size_t k = 0; k < 3; k++) {
			char saved[160], p[160];

			/* Keep the real file aside to put back after. */
			snprintf(p, sizeof(p), "%s/%s", f->path, names[i]);
			snprintf(saved, sizeof(saved), "%s/saved", f->dir);
			assert_int_equal(rename(p, saved), 0);
			plant(f, names[i], kinds[k]);
			assert_int_equal(reopen(f, 0, detail, sizeof(detail)),
			                 GH_EACCES);
			assert_non_null(strstr(detail, names[i]));
			assert_int_equal(reopen(f, GH_STORE_RDONLY, detail,
			                        sizeof(detail)),
			                 strcmp(names[i], "wlock") == 0 ?
			                 GH_OK : GH_EACCES);
			if (strcmp(kinds[k], "fifo") != 0) {
				FILE *v = fopen(t, "r");

				assert_non_null(v);
				assert_non_null(fgets(buf, sizeof(buf), v));
				fclose(v);
				assert_string_equal(buf, "untouched\n");
				unlink(t);
			}
			assert_int_equal(rename(saved, p), 0);
		}
	}
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_OK);
}

/* A store directory others may write is refused, and made 0700 by an
 * open with CREATE (what `gatehouse store init` does); a directory above
 * it that others may write is refused either way. */
static void
test_loose_directories(void **state)
{
	struct gh_fx *f = *state;
	char detail[512];
	struct stat sb;

	gh_store_close(f->st);
	f->st = NULL;
	assert_int_equal(chmod(f->path, 02770), 0);
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "writable by group"));
	assert_int_equal(reopen(f, GH_STORE_CREATE, detail, sizeof(detail)),
	                 GH_OK);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, f->dir));
	assert_int_equal(reopen(f, GH_STORE_CREATE, detail, sizeof(detail)),
	                 GH_EACCES);
	/* Sticky, as /tmp: others cannot replace what is ours in it. */
	assert_int_equal(chmod(f->dir, 01777), 0);
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_OK);
	assert_int_equal(chmod(f->dir, 0700), 0);
}

/* A link to a store planted in a directory others can write is never
 * followed, by an open or by root's gh_store_prepare (which would chmod
 * whatever it led to). */
static void
test_link_in_loose_directory(void **state)
{
	struct gh_fx *f = *state;
	char loose[128], link[160], victim[128], detail[512];
	struct gh_store *st = NULL;
	struct gh_store_opts o = {.flags = GH_STORE_CREATE};
	struct stat sb;

	snprintf(loose, sizeof(loose), "%s/loose", f->dir);
	snprintf(link, sizeof(link), "%s/store", loose);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	assert_int_equal(mkdir(loose, 0777), 0);
	assert_int_equal(chmod(loose, 0777), 0);
	assert_int_equal(mkdir(victim, 0755), 0);
	assert_int_equal(symlink(victim, link), 0);
	o.path = link;
	assert_int_equal(gh_store_open(&st, &o, detail, sizeof(detail)),
	                 GH_EACCES);
	assert_non_null(strstr(detail, "writable by group or others"));
	if (geteuid() == 0)
		assert_int_equal(gh_store_prepare(link, 0, 0, detail,
		                                  sizeof(detail)), GH_EACCES);
	assert_int_equal(stat(victim, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	/* Sticky, as /tmp: a link someone else made there is not followed
	 * (whatever fs.protected_symlinks says); one of ours is. */
	assert_int_equal(chmod(loose, 01777), 0);
	if (geteuid() == 0) {
		assert_int_equal(lchown(link, 65534, 65534), 0);
		assert_int_equal(gh_store_open(&st, &o, detail,
		                               sizeof(detail)), GH_EACCES);
		assert_non_null(strstr(detail, "a link of uid 65534"));
		assert_int_equal(lchown(link, 0, 0), 0);
	}
	/* The same link in a directory only we can change is ours: fine. */
	assert_int_equal(chmod(loose, 0755), 0);
	assert_int_equal(gh_store_open(&st, &o, detail, sizeof(detail)),
	                 GH_OK);
	gh_store_close(st);
}

/* Only the owner opens a store: root included (the CLI drops to the owner
 * first, docs/security.md). */
static void
test_foreign_owner(void **state)
{
	struct gh_fx *f = *state;
	char detail[512];

	if (geteuid() != 0)
		skip();
	gh_store_close(f->st);
	f->st = NULL;
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_EACCES);
	assert_non_null(strstr(detail, "owned by uid 65534"));
	assert_int_equal(reopen(f, GH_STORE_RDONLY, detail, sizeof(detail)),
	                 GH_EACCES);
	assert_int_equal(chown(f->path, 0, 0), 0);
	/* A file of someone else's in our directory is refused too. */
	{
		char p[160];

		snprintf(p, sizeof(p), "%s/lock.mdb", f->path);
		assert_int_equal(chown(p, 65534, 65534), 0);
		assert_int_equal(reopen(f, 0, detail, sizeof(detail)),
		                 GH_EACCES);
		assert_non_null(strstr(detail, "lock.mdb"));
		assert_int_equal(chown(p, 0, 0), 0);
	}
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_OK);
}

/* A store owned by a uid the password database does not know: root does
 * not become it with the directory's group (gid 0 here) but refuses, and
 * stays as it was.  Run in a child: success would drop root for good. */
static void
test_become_unknown_owner(void **state)
{
	struct gh_fx *f = *state;
	const uid_t ghost = 4123456789u;
	int status = -1;
	pid_t pid;

	if (geteuid() != 0 || getpwuid(ghost) != NULL)
		skip();
	gh_store_close(f->st);
	f->st = NULL;
	assert_int_equal(chown(f->path, ghost, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char detail[512] = "";
		gh_err err = gh_store_become_owner(f->path, detail,
		                                   sizeof(detail));

		_exit(err == GH_EACCES && strstr(detail, "no passwd entry") &&
		      geteuid() == 0 && getegid() == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chown(f->path, 0, 0), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

struct kv {
	const char *k, *v;
	char got[64];
	int n;
};

static gh_err
put_fn(struct gh_txn *txn, void *arg)
{
	struct kv *kv = arg;

	return gh_txn_put(txn, GH_DB_USERS, kv->k, strlen(kv->k), kv->v,
	                  strlen(kv->v));
}

static gh_err
get_fn(struct gh_txn *txn, void *arg)
{
	struct kv *kv = arg;
	const void *v;
	size_t vl;
	gh_err err;

	err = gh_txn_get(txn, GH_DB_USERS, kv->k, strlen(kv->k), &v, &vl);
	if (err)
		return err;
	assert_true(vl < sizeof(kv->got));
	memcpy(kv->got, v, vl);
	kv->got[vl] = '\0';
	return GH_OK;
}

static gh_err
fail_fn(struct gh_txn *txn, void *arg)
{
	put_fn(txn, arg);
	return GH_EINVAL;   /* must abort: the put is not kept */
}

/* gh_store_check judges as an open would, and changes nothing. */
static void
test_check(void **state)
{
	struct gh_fx *f = *state;
	char detail[512], p[160], saved[160];
	struct stat sb;

	gh_store_close(f->st);
	f->st = NULL;
	assert_int_equal(gh_store_check(f->path, detail, sizeof(detail)),
	                 GH_OK);
	/* a loose mode an open would fix: left as it is, still fine */
	snprintf(p, sizeof(p), "%s/data.mdb", f->path);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(gh_store_check(f->path, detail, sizeof(detail)),
	                 GH_OK);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	/* one its owner cannot write: said, with the file */
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(gh_store_check(f->path, detail, sizeof(detail)),
	                 GH_EACCES);
	assert_non_null(strstr(detail, "data.mdb: mode 0400"));
	assert_int_equal(chmod(p, 0600), 0);
	/* a planted link, refused and not followed */
	snprintf(p, sizeof(p), "%s/lock.mdb", f->path);
	snprintf(saved, sizeof(saved), "%s/saved", f->dir);
	assert_int_equal(rename(p, saved), 0);
	plant(f, "lock.mdb", "symlink");
	assert_int_equal(gh_store_check(f->path, detail, sizeof(detail)),
	                 GH_EACCES);
	assert_non_null(strstr(detail, "lock.mdb: a symbolic link"));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rename(saved, p), 0);
	/* no data.mdb: no store, and nothing made */
	snprintf(p, sizeof(p), "%s/data.mdb", f->path);
	assert_int_equal(rename(p, saved), 0);
	assert_int_equal(gh_store_check(f->path, detail, sizeof(detail)),
	                 GH_ENOTFOUND);
	assert_int_equal(stat(p, &sb), -1);
	assert_int_equal(rename(saved, p), 0);
	snprintf(p, sizeof(p), "%s/nothing-here", f->dir);
	assert_int_equal(gh_store_check(p, detail, sizeof(detail)),
	                 GH_ENOTFOUND);
	assert_int_equal(stat(p, &sb), -1);
	assert_int_equal(reopen(f, 0, detail, sizeof(detail)), GH_OK);
}

static void
test_put_get_abort(void **state)
{
	struct gh_fx *f = *state;
	struct kv a = {.k = "alice", .v = "{\"email\":\"a@example.org\"}"};
	struct kv b = {.k = "bob", .v = "x"};

	assert_int_equal(gh_store_update(f->st, put_fn, &a), GH_OK);
	assert_int_equal(gh_store_view(f->st, get_fn, &a), GH_OK);
	assert_string_equal(a.got, a.v);
	assert_int_equal(gh_store_update(f->st, fail_fn, &b), GH_EINVAL);
	assert_int_equal(gh_store_view(f->st, get_fn, &b), GH_ENOTFOUND);
}

static gh_err
put_in_view(struct gh_txn *txn, void *arg)
{
	return gh_txn_put(txn, GH_DB_USERS, "k", 1, "v", 1);
}

static gh_err
long_key(struct gh_txn *txn, void *arg)
{
	char k[600];

	memset(k, 'k', sizeof(k));
	return gh_txn_put(txn, GH_DB_USERS, k, sizeof(k), "v", 1);
}

static void
test_view_is_readonly(void **state)
{
	struct gh_fx *f = *state;

	assert_int_equal(gh_store_view(f->st, put_in_view, NULL),
	                 GH_EREADONLY);
	assert_int_equal(gh_store_update(f->st, long_key, NULL), GH_ETOOBIG);
}

struct scan_acc {
	char seen[16][8];
	int n;
};

static int
scan_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct scan_acc *s = arg;

	memcpy(s->seen[s->n], k, kl < 7 ? kl : 7);
	s->seen[s->n][kl < 7 ? kl : 7] = '\0';
	s->n++;
	return s->n == 3 ? 42 : 0;
}

static gh_err
fill_fn(struct gh_txn *txn, void *arg)
{
	const char *keys[] = {"a", "b", "c", "d", "e"};

	for (int i = 0; i < 5; i++) {
		gh_err err = gh_txn_put(txn, GH_DB_RATE, keys[i], 1, "", 0);
		if (err)
			return err;
	}
	return GH_OK;
}

static gh_err
scan_view(struct gh_txn *txn, void *arg)
{
	struct scan_acc *s = arg;
	int stopped = 0;
	gh_err err;

	memset(s, 0, sizeof(*s));
	err = gh_txn_scan(txn, GH_DB_RATE, "bb", 2, 0, scan_fn, s, &stopped);
	assert_int_equal(stopped, 42);
	assert_string_equal(s->seen[0], "c");
	assert_string_equal(s->seen[2], "e");
	memset(s, 0, sizeof(*s));
	err = gh_txn_scan(txn, GH_DB_RATE, "bb", 2, 1, scan_fn, s, &stopped);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->seen[0], "b");
	assert_string_equal(s->seen[1], "a");
	assert_int_equal(stopped, 0);
	memset(s, 0, sizeof(*s));
	err = gh_txn_scan(txn, GH_DB_RATE, NULL, 0, 1, scan_fn, s, &stopped);
	assert_string_equal(s->seen[0], "e");
	return err;
}

static void
test_scan(void **state)
{
	struct gh_fx *f = *state;
	struct scan_acc s;

	assert_int_equal(gh_store_update(f->st, fill_fn, NULL), GH_OK);
	assert_int_equal(gh_store_view(f->st, scan_view, &s), GH_OK);
}

static gh_err
seq_fn(struct gh_txn *txn, void *arg)
{
	uint64_t *v = arg;

	return gh_txn_next_seq(txn, "test_seq", v);
}

static void
test_seq(void **state)
{
	struct gh_fx *f = *state;
	uint64_t v = 0;

	assert_int_equal(gh_store_update(f->st, seq_fn, &v), GH_OK);
	assert_int_equal(v, 1);
	assert_int_equal(gh_store_update(f->st, seq_fn, &v), GH_OK);
	assert_int_equal(v, 2);
}

/* Writes 1 MiB of values per call: fills a 1 MiB map at once. */
struct big {
	int round;
	int runs;
};

static gh_err
big_fn(struct gh_txn *txn, void *arg)
{
	struct big *b = arg;
	static char val[64 * 1024];
	char key[32];
	gh_err err;

	b->runs++;
	memset(val, 'x', sizeof(val));
	for (int i = 0; i < 16; i++) {
		snprintf(key, sizeof(key), "r%d-%d", b->round, i);
		err = gh_txn_put(txn, GH_DB_UPLOADS, key, strlen(key), val,
		                 sizeof(val));
		if (err)
			return err;
	}
	return GH_OK;
}

static void
test_grow_and_full(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store *st;
	struct gh_store_opts o = {.flags = GH_STORE_CREATE | GH_STORE_NOSYNC,
	                          .map_size = 1 << 20, .map_max = 8 << 20};
	struct gh_store_info info;
	char path2[128];
	struct big b = {0, 0};
	gh_err err = GH_OK;
	int rounds = 0;

	snprintf(path2, sizeof(path2), "%s/small", f->dir);
	o.path = path2;
	assert_int_equal(gh_store_open(&st, &o, NULL, 0), GH_OK);
	/* Rounds fit by growing the map; then map_max stops them. */
	while (rounds < 50) {
		b.round = rounds;
		b.runs = 0;
		err = gh_store_update(st, big_fn, &b);
		if (err)
			break;
		rounds++;
	}
	assert_int_equal(err, GH_EFULL);
	assert_true(rounds >= 3);   /* 1 MiB could hold none of them */
	assert_int_equal(gh_store_info(st, &info), GH_OK);
	assert_int_equal(info.map_size, 8 << 20);
	assert_int_equal(info.entries[GH_DB_UPLOADS], (size_t)rounds * 16);
	gh_store_close(st);
	/* Reopened with a smaller map_size it keeps its size and data. */
	o.map_size = 1 << 20;
	assert_int_equal(gh_store_open(&st, &o, NULL, 0), GH_OK);
	assert_int_equal(gh_store_info(st, &info), GH_OK);
	assert_true(info.map_size >= info.used);
	assert_true(info.map_size <= 8 << 20);
	assert_int_equal(info.entries[GH_DB_UPLOADS], (size_t)rounds * 16);
	assert_int_equal(info.schema, GH_STORE_SCHEMA);
	gh_store_close(st);
}

/* A second process holds the write lock and is stopped: a writer with a
 * deadline gets GH_ELOCKED in about that time, and readers are unaffected. */
static gh_err
stop_fn(struct gh_txn *txn, void *arg)
{
	int *pipefd = arg;

	gh_txn_put(txn, GH_DB_META, "held", 4, "1", 1);
	(void)!write(pipefd[1], "x", 1);
	raise(SIGSTOP);
	return GH_OK;
}

static void
test_lock_deadline(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store *st2 = NULL;
	struct gh_store_opts o = {.path = f->path, .lock_timeout_ms = 100,
	                          .flags = GH_STORE_NOSYNC};
	struct kv a = {.k = "carol", .v = "1"};
	struct timespec t0, t1;
	int pipefd[2], status;
	char c;
	pid_t pid;
	long ms;

	/* The parent's handle was opened before fork: the child must use a
	 * handle of its own. */
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct gh_store *cs;

		/* Using the parent's handle in the child is refused. */
		if (gh_store_update(f->st, put_fn, &a) != GH_EINVAL)
			_exit(3);
		if (gh_store_open(&cs, &o, NULL, 0) != GH_OK)
			_exit(2);
		gh_store_update(cs, stop_fn, pipefd);
		gh_store_close(cs);
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));

	assert_int_equal(gh_store_open(&st2, &o, NULL, 0), GH_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gh_store_update(st2, put_fn, &a), GH_ELOCKED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 90);
	/* The deadline can be changed after open: 0 is one try, no wait. */
	gh_store_set_lock_timeout(st2, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gh_store_update(st2, put_fn, &a), GH_ELOCKED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 50);
	gh_store_set_lock_timeout(st2, 300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gh_store_update(st2, put_fn, &a), GH_ELOCKED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 290);
	/* Readers never wait on writers. */
	assert_int_equal(gh_store_view(st2, get_fn, &a), GH_ENOTFOUND);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* The dead holder's lock is gone with it; its write never landed. */
	assert_int_equal(gh_store_update(st2, put_fn, &a), GH_OK);
	gh_store_close(st2);
}

static void
test_readonly(void **state)
{
	struct gh_fx *f = *state;
	struct gh_store *ro;
	struct gh_store_opts o = {.path = f->path, .flags = GH_STORE_RDONLY};
	struct kv a = {.k = "dave", .v = "1"};

	assert_int_equal(gh_store_open(&ro, &o, NULL, 0), GH_OK);
	assert_int_equal(gh_store_update(ro, put_fn, &a), GH_EREADONLY);
	assert_int_equal(gh_store_view(ro, get_fn, &a), GH_ENOTFOUND);
	gh_store_close(ro);
}

static void
test_names(void **state)
{
	(void)state;
	for (int i = 0; i < GH_DB_COUNT_; i++)
		assert_int_equal(gh_db_lookup(gh_db_name((enum gh_db)i)), i);
	assert_int_equal(gh_db_lookup("nope"), -1);
	assert_string_equal(gh_strerror(GH_ELOCKED),
	                    "store write lock not acquired in time");
	assert_string_equal(gh_errname(GH_EFULL), "EFULL");
	assert_string_equal(gh_strerror((gh_err)999), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_modes, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_planted_files, gh_fx_setup,
		                                gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_loose_directories,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_link_in_loose_directory,
		                                gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_owner, gh_fx_setup,
		                                gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_check, gh_fx_setup,
		                                gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_put_get_abort, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_view_is_readonly, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_scan, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_seq, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_grow_and_full, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_lock_deadline, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_readonly, gh_fx_setup, gh_fx_teardown),
		cmocka_unit_test_setup_teardown(test_become_unknown_owner,
		                                gh_fx_setup, gh_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
