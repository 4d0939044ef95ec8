/*
 * gscan_clamd.c - the clamd backend of the scanner (gscan.h, CLAMD):
 * zINSTREAM and zVERSION over clamd's unix socket, and the parse of its
 * replies.
 *
 * The protocol (clamd(8)): a command prefixed with 'z' is NUL-terminated
 * and so is its reply.  INSTREAM is followed by chunks, each a 4-byte
 * big-endian length and that many bytes, and a zero length.  clamd
 * answers "stream: OK", "stream: NAME FOUND" or "... ERROR"; past its
 * StreamMaxLength it answers "INSTREAM size limit exceeded. ERROR" and
 * closes the connection at once, so a send that fails (EPIPE) is followed
 * by a read of whatever it said.
 *
 * Every call opens its own connection: clamd serves one command per
 * connection unless asked for a session, and a connection per scan keeps
 * the threads of a host independent.  Sockets have SO_SNDTIMEO and
 * SO_RCVTIMEO, so no call waits longer than the timeout per send or
 * reply, and MSG_NOSIGNAL, so a closed socket is an error, not SIGPIPE
 * in the host (nginx, the milter).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <clamav.h>

#include "gscan_int.h"

#define REPLY_MAX 1024
#define SIZE_LIMIT "INSTREAM size limit exceeded"

/* Printable ASCII only: the name goes to logs, records and answers. */
static void
clean_copy(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

static int
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t k = strlen(suffix);

	return len >= k && memcmp(s + len - k, suffix, k) == 0;
}

void
gscan_clamd_reply(const char *reply, size_t len, struct gscan_verdict *v)
{
	char name[GSCAN_NAME_MAX];
	const char *nul;

	/* up to the terminator; trailing newlines and blanks dropped */
	if ((nul = memchr(reply, '\0', len)) != NULL)
		len = (size_t)(nul - reply);
	while (len > 0 && (reply[len - 1] == '\n' || reply[len - 1] == '\r' ||
	                   reply[len - 1] == ' '))
		len--;
	if (len >= 8 && memcmp(reply, "stream: ", 8) == 0) {
		reply += 8;
		len -= 8;
	}
	if (len == 2 && memcmp(reply, "OK", 2) == 0) {
		gscan_set_verdict(v, GSCAN_CLEAN, GSCAN_R_NONE, NULL);
		return;
	}
	if (ends_with(reply, len, " FOUND") && len > 6) {
		clean_copy(name, sizeof(name), reply, len - 6);
		if (name[0] != '\0' && strchr(name, ' ') == NULL) {
			/* the heuristics map as libclamav's own do */
			gscan_classify(CL_VIRUS, name, 0, NULL, v);
			return;
		}
	} else if (ends_with(reply, len, " ERROR") && len > 6) {
		if (len >= sizeof(SIZE_LIMIT) - 1 &&
		    memcmp(reply, SIZE_LIMIT, sizeof(SIZE_LIMIT) - 1) == 0) {
			gscan_set_verdict(v, GSCAN_UNSCANNABLE, GSCAN_R_SIZE,
			                  "clamd: " SIZE_LIMIT);
			return;
		}
		memcpy(name, "clamd: ", 7);
		clean_copy(name + 7, sizeof(name) - 7, reply, len - 6);
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, name);
		return;
	}
	if (len == 0) {
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE,
		                  "clamd: no reply");
		return;
	}
	memcpy(name, "clamd: unexpected reply: ", 25);
	clean_copy(name + 25, sizeof(name) - 25, reply, len);
	gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, name);
}

int
gscan_clamd_version(const char *reply, size_t len)
{
	const char *nul, *slash, *end;
	unsigned long long daily = 0;

	if ((nul = memchr(reply, '\0', len)) != NULL)
		len = (size_t)(nul - reply);
	if (len < 7 || memcmp(reply, "ClamAV ", 7) != 0)
		return -1;
	end = reply + len;
	slash = memchr(reply, '/', len);
	if (slash == NULL)
		return 0;
	/* "ClamAV 1.0.7/27110/Thu Dec  3 09:27:01 2026" */
	for (const char *p = slash + 1; p < end && *p != '/'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (daily < UINT32_MAX)
			daily = daily * 10 + (unsigned)(*p - '0');
	}
	return daily > 0 ? 1 : 0;
}

/* ---- the socket ---- */

static int
clamd_connect(const char *sock, int timeout_ms, char *err, size_t err_len)
{
	struct sockaddr_un sa;
	struct timeval tv;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "clamd: socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "clamd: socket: %s", strerror(errno));
		return -1;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	/* SO_SNDTIMEO bounds connect() too, when clamd's backlog is full */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, err_len, "clamd: connect %s: %s", sock,
		         strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The reply, up to its NUL, EOF, the cap or the timeout; its length, or
 * -1 with errno when nothing came. */
static ssize_t
read_reply(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (n > 0)
				break;
			return -1;
		}
		if (r == 0)
			break;
		if (memchr(buf + n, '\0', (size_t)r) != NULL) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static int
send_chunk(int fd, const void *data, size_t len)
{
	unsigned char hdr[4];

	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	if (send_all(fd, hdr, sizeof(hdr)) != 0)
		return -1;
	return len ? send_all(fd, data, len) : 0;
}

/*
 * The end of a stream: the zero chunk (unless sending already failed),
 * then the reply.  A failed send is not yet a failure: clamd closes after
 * saying why (the size limit).
 */
static void
finish(int fd, int send_failed, int send_errno, struct gscan_verdict *v)
{
	char reply[REPLY_MAX], msg[GSCAN_NAME_MAX];
	ssize_t n;

	if (!send_failed && send_chunk(fd, NULL, 0) != 0) {
		send_failed = 1;
		send_errno = errno;
	}
	n = read_reply(fd, reply, sizeof(reply));
	if (n > 0) {
		gscan_clamd_reply(reply, (size_t)n, v);
		return;
	}
	if (send_failed)
		snprintf(msg, sizeof(msg), "clamd: send: %s",
		         strerror(send_errno));
	else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(msg, sizeof(msg), "clamd: no reply in time");
	else if (n < 0)
		snprintf(msg, sizeof(msg), "clamd: recv: %s", strerror(errno));
	else
		snprintf(msg, sizeof(msg), "clamd: closed without a reply");
	gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, msg);
}

void
gscan_clamd_mem(const char *sock, int timeout_ms, const void *buf,
                size_t len, struct gscan_verdict *v)
{
	char err[GSCAN_NAME_MAX];
	const char *p = buf;
	int fd, failed = 0, serr = 0;

	fd = clamd_connect(sock, timeout_ms, err, sizeof(err));
	if (fd < 0) {
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, err);
		return;
	}
	if (send_all(fd, "zINSTREAM", sizeof("zINSTREAM")) != 0) {
		failed = 1;
		serr = errno;
	}
	while (!failed && len > 0) {
		size_t n = len < GSCAN_CLAMD_CHUNK ? len : GSCAN_CLAMD_CHUNK;

		if (send_chunk(fd, p, n) != 0) {
			failed = 1;
			serr = errno;
			break;
		}
		p += n;
		len -= n;
	}
	finish(fd, failed, serr, v);
	close(fd);
}

void
gscan_clamd_fd(const char *sock, int timeout_ms, int fd,
               struct gscan_verdict *v)
{
	char err[GSCAN_NAME_MAX];
	unsigned char *buf = NULL;
	int cfd = -1, failed = 0, serr = 0;
	off_t off = 0;

	buf = malloc(GSCAN_CLAMD_CHUNK);
	if (buf == NULL) {
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE,
		                  "clamd: out of memory");
		goto cleanup;
	}
	cfd = clamd_connect(sock, timeout_ms, err, sizeof(err));
	if (cfd < 0) {
		gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, err);
		goto cleanup;
	}
	if (send_all(cfd, "zINSTREAM", sizeof("zINSTREAM")) != 0) {
		failed = 1;
		serr = errno;
	}
	while (!failed) {
		ssize_t n = pread(fd, buf, GSCAN_CLAMD_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, sizeof(err), "read: %s", strerror(errno));
			gscan_set_verdict(v, GSCAN_ERROR, GSCAN_R_NONE, err);
			goto cleanup;
		}
		if (n == 0)
			break;
		if (send_chunk(cfd, buf, (size_t)n) != 0) {
			failed = 1;
			serr = errno;
			break;
		}
		off += n;
	}
	finish(cfd, failed, serr, v);
cleanup:
	if (cfd >= 0)
		close(cfd);
	free(buf);
}

gh_err
gscan_clamd_ask_version(const char *sock, int timeout_ms, char *out,
                        size_t out_len, char *detail, size_t detail_len)
{
	char reply[REPLY_MAX];
	ssize_t n;
	int fd;

	out[0] = '\0';
	fd = clamd_connect(sock, timeout_ms, detail, detail_len);
	if (fd < 0)
		return GH_EIO;
	if (send_all(fd, "zVERSION", sizeof("zVERSION")) != 0) {
		snprintf(detail, detail_len, "clamd: send: %s", strerror(errno));
		close(fd);
		return GH_EIO;
	}
	n = read_reply(fd, reply, sizeof(reply));
	close(fd);
	if (n <= 0) {
		snprintf(detail, detail_len, "clamd: no reply to VERSION");
		return GH_EIO;
	}
	clean_copy(out, out_len, reply, strnlen(reply, (size_t)n));
	return GH_OK;
}
