/*
 * sdnotify.h - tell systemd (Type=notify) how the daemon is doing
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 * Written here in a few lines rather than linking libsystemd.  Without
 * NOTIFY_SOCKET it does nothing.
 */
#ifndef GH_NOTIFYD_SDNOTIFY_H
#define GH_NOTIFYD_SDNOTIFY_H

/* nd_sd_notify - send state ("READY=1", "STOPPING=1", "RELOADING=1",
 * "STATUS=..."); returns 1 if sent, 0 if there is no socket, -1 on error. */
int nd_sd_notify(const char *state);

#endif
