/*
 * null_milter - bench/milter's anchor: the cheapest libmilter milter that
 * does what gatehouse-milter must do with every message, and nothing else.
 *
 * USAGE
 *	null_milter SOCKET		(unix:/path or inet:PORT@127.0.0.1)
 *
 * It negotiates what gatehouse-milter negotiates (milter/proto.c: no HELO,
 * unknown-command or end-of-header events; header values with their
 * leading space; over a unix socket no reply per header field or body
 * chunk; the same few macros), sees every other event, and at the end of each message inserts
 * one header field at the top, as a DKIM-Signature is inserted, so the MTA
 * edits its queue file the same way.  It signs, logs and checks nothing.
 *
 * What it costs over no milter at all is what Postfix's milter client and
 * libmilter cost on this machine: the floor under any libmilter milter,
 * so (null milter rate) / (no milter rate) is the best ratio any of them
 * can reach here.  Runs in the foreground until SIGTERM.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libmilter/mfapi.h>

#include "proto.h"

/* Set once in main() before smfi_main() starts a thread. */
static int local_socket;

/* The protocol part of the negotiation is gatehouse-milter's own
 * (milter/proto.c), so this milter costs exactly what that protocol
 * costs. */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
             unsigned long f2, unsigned long f3, unsigned long *pf0,
             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	*pf0 = SMFIF_ADDHDRS;
	gm_proto_negotiate(ctx, local_socket, f0, f1, pf0, pf1);
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static unsigned long
noreply(void)
{
	return gm_proto_noreply(local_socket);
}

/* Registered so that the MTA sends these events, as it does to us. */
static sfsistat
cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx;
	(void)host;
	(void)addr;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envelope(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return noreply() & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return noreply() & SMFIP_NR_BODY ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	(void)smfi_insheader(ctx, 0, (char *)"X-Null-Milter",
	                     (char *)" seen");
	return SMFIS_CONTINUE;
}

/* gatehouse-milter sets TCP_NODELAY on its listening socket: so do we. */
static void
nodelay_listener(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		int on = 0;
		socklen_t ol = sizeof(on);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) != 0 ||
		    !on)
			continue;
		on = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc;

	if (argc != 2) {
		fprintf(stderr, "usage: null_milter SOCKET\n");
		return 2;
	}
	local_socket = strncmp(argv[1], "unix:", 5) == 0 ||
	    strncmp(argv[1], "local:", 6) == 0 || argv[1][0] == '/';
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = "null";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS;
	desc.xxfi_connect = cb_connect;
	desc.xxfi_envfrom = cb_envelope;
	desc.xxfi_envrcpt = cb_envelope;
	desc.xxfi_data = cb_data;
	desc.xxfi_header = cb_header;
	desc.xxfi_body = cb_body;
	desc.xxfi_eom = cb_eom;
	desc.xxfi_negotiate = cb_negotiate;
	if (smfi_register(desc) != MI_SUCCESS ||
	    smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	/* Postfix's smtpd runs as postfix: let it connect, as
	 * gatehouse-milter's socket_mode does in the bench */
	if (local_socket)
		(void)chmod(strchr(argv[1], ':') ? strchr(argv[1], ':') + 1 :
		            argv[1], 0666);
	else
		nodelay_listener();
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
