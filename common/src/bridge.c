/*
 * bridge.c - one JSON object per SOCK_SEQPACKET packet (gatehouse/bridge.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gatehouse/bridge.h"

gh_err
gh_bridge_send(int fd, const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t n;
	ssize_t w;

	if (s == NULL)
		return GH_ENOMEM;
	n = strlen(s);
	if (n > GH_BRIDGE_MSG_MAX) {
		free(s);
		return GH_ETOOBIG;
	}
	do
		w = send(fd, s, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	free(s);
	return w == (ssize_t)n ? GH_OK : GH_EIO;
}

gh_err
gh_bridge_recv(int fd, char *buf, size_t cap, json_t **msg, size_t *nbytes)
{
	json_error_t jerr;
	ssize_t r;

	*msg = NULL;
	if (cap < GH_BRIDGE_MSG_MAX + 1)
		return GH_EINVAL;
	do
		r = recv(fd, buf, cap, MSG_TRUNC | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return GH_ENOTFOUND;
	if (r <= 0)
		return GH_EIO;
	if (nbytes)
		*nbytes = (size_t)r;
	if ((size_t)r > GH_BRIDGE_MSG_MAX)
		return GH_EINVAL;
	*msg = json_loadb(buf, (size_t)r, JSON_REJECT_DUPLICATES, &jerr);
	if (*msg == NULL || !json_is_object(*msg) ||
	    !json_is_string(json_object_get(*msg, "t"))) {
		json_decref(*msg);
		*msg = NULL;
		return GH_EINVAL;
	}
	return GH_OK;
}

const char *
gh_bridge_type(const json_t *msg)
{
	const char *t = json_string_value(json_object_get(msg, "t"));

	return t ? t : "";
}
