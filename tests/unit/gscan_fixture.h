/*
 * gscan_fixture.h - what the scanner's unit tests scan: a signature
 * database written for the test (an .ndb body signature for EICAR under a
 * name of our own, so a detection can only come from it) and zip archives
 * made here with zlib (stored, deflated, encrypted, nested), so no tool or
 * downloaded file is needed.  Include after <cmocka.h>.
 */
#ifndef GH_TEST_GSCAN_FIXTURE_H
#define GH_TEST_GSCAN_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define FX_EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-" \
	"TEST-FILE!$H+H*"
#define FX_SIG "Gatehouse.Test.EICAR-1"

/* A temporary directory holding db/gatehouse-test.ndb. */
struct fx_db {
	char dir[64];
	char db[96];
};

static inline void
fx_db_make(struct fx_db *d)
{
	char path[160];
	FILE *f;

	strcpy(d->dir, "/tmp/gh-gscan-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->db, sizeof(d->db), "%s/db", d->dir);
	assert_int_equal(mkdir(d->db, 0700), 0);
	snprintf(path, sizeof(path), "%s/gatehouse-test.ndb", d->db);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s:0:*:", FX_SIG);
	for (const char *p = FX_EICAR; *p; p++)
		fprintf(f, "%02x", (unsigned char)*p);
	fprintf(f, "\n");
	assert_int_equal(fclose(f), 0);
}

static inline void
fx_db_remove(struct fx_db *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	assert_int_equal(system(cmd), 0);
}

/* A growing byte buffer. */
struct fx_buf {
	unsigned char *p;
	size_t len, cap;
};

static inline void
fx_put(struct fx_buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;

		while (ncap < b->len + len)
			ncap *= 2;
		b->p = realloc(b->p, ncap);
		assert_non_null(b->p);
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static inline void
fx_le(struct fx_buf *b, uint32_t v, int bytes)
{
	unsigned char c[4];

	for (int i = 0; i < bytes; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	fx_put(b, c, (size_t)bytes);
}

enum fx_zip { FX_STORED, FX_DEFLATED, FX_ENCRYPTED };

/* A zip of one file, name, holding data (its bytes stored, deflated, or
 * marked encrypted: the general purpose flag's bit 0 and a traditional
 * 12-byte encryption header before bytes no key will ever open). */
static inline struct fx_buf
fx_zip(const char *name, const void *data, size_t len, enum fx_zip how)
{
	struct fx_buf z = {0}, body = {0};
	uint32_t crc = (uint32_t)crc32(0, data, (uInt)len);
	uint16_t method = how == FX_DEFLATED ? 8 : 0;
	uint16_t flags = how == FX_ENCRYPTED ? 1 : 0;
	size_t nlen = strlen(name);
	uint32_t cdir;

	if (how == FX_DEFLATED) {
		z_stream s;
		unsigned char out[16384];
		int rc;

		memset(&s, 0, sizeof(s));
		assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8,
		                              Z_DEFAULT_STRATEGY), Z_OK);
		s.next_in = (Bytef *)(uintptr_t)data;
		s.avail_in = (uInt)len;
		do {
			s.next_out = out;
			s.avail_out = sizeof(out);
			rc = deflate(&s, Z_FINISH);
			fx_put(&body, out, sizeof(out) - s.avail_out);
		} while (rc == Z_OK);
		assert_int_equal(rc, Z_STREAM_END);
		deflateEnd(&s);
	} else {
		if (how == FX_ENCRYPTED)
			fx_put(&body, "\x13\x57\x9b\xdf\x24\x68\xac\xe0"
			              "\x35\x79\xbd\x01", 12);
		fx_put(&body, data, len);
	}
	/* local file header */
	fx_le(&z, 0x04034b50, 4);
	fx_le(&z, 20, 2);
	fx_le(&z, flags, 2);
	fx_le(&z, method, 2);
	fx_le(&z, 0, 4);		/* time, date */
	fx_le(&z, crc, 4);
	fx_le(&z, (uint32_t)body.len, 4);
	fx_le(&z, (uint32_t)len, 4);
	fx_le(&z, (uint32_t)nlen, 2);
	fx_le(&z, 0, 2);
	fx_put(&z, name, nlen);
	fx_put(&z, body.p, body.len);
	/* central directory */
	cdir = (uint32_t)z.len;
	fx_le(&z, 0x02014b50, 4);
	fx_le(&z, 20, 2);
	fx_le(&z, 20, 2);
	fx_le(&z, flags, 2);
	fx_le(&z, method, 2);
	fx_le(&z, 0, 4);
	fx_le(&z, crc, 4);
	fx_le(&z, (uint32_t)body.len, 4);
	fx_le(&z, (uint32_t)len, 4);
	fx_le(&z, (uint32_t)nlen, 2);
	fx_le(&z, 0, 2);		/* extra */
	fx_le(&z, 0, 2);		/* comment */
	fx_le(&z, 0, 2);		/* disk */
	fx_le(&z, 0, 2);		/* internal attributes */
	fx_le(&z, 0, 4);		/* external attributes */
	fx_le(&z, 0, 4);		/* local header offset */
	fx_put(&z, name, nlen);
	/* end of central directory */
	fx_le(&z, 0x06054b50, 4);
	fx_le(&z, 0, 2);
	fx_le(&z, 0, 2);
	fx_le(&z, 1, 2);
	fx_le(&z, 1, 2);
	fx_le(&z, (uint32_t)(z.len - cdir), 4);
	fx_le(&z, cdir, 4);
	fx_le(&z, 0, 2);
	free(body.p);
	return z;
}

/* EICAR in levels zips, one inside the next, deflated (so that the bytes
 * of the outer ones never hold EICAR's as they are). */
static inline struct fx_buf
fx_nested(int levels)
{
	struct fx_buf cur = {0};

	fx_put(&cur, FX_EICAR, strlen(FX_EICAR));
	for (int i = 0; i < levels; i++) {
		struct fx_buf next = fx_zip(i ? "inner.zip" : "eicar.com",
		                            cur.p, cur.len, FX_DEFLATED);

		free(cur.p);
		cur = next;
	}
	return cur;
}

/* An unnamed file in dir holding the bytes: a descriptor to scan. */
static inline int
fx_file(const char *dir, const void *data, size_t len)
{
	char tmpl[128];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/scan-XXXXXX", dir);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	unlink(tmpl);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

#endif /* GH_TEST_GSCAN_FIXTURE_H */
