/*
 * gatehouse/sdnotify.h - tell systemd (Type=notify) how a daemon is doing
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 * Written here in a few lines rather than linking libsystemd; every daemon
 * of Gatehouse (notifyd, the milter, the bridges) uses it.  Without
 * NOTIFY_SOCKET it does nothing.  It opens, sends and closes a socket per
 * call, touches nothing shared, and so may be called from any thread.
 */
#ifndef GH_SDNOTIFY_H
#define GH_SDNOTIFY_H

/* gh_sd_notify - send state ("READY=1", "STOPPING=1", "RELOADING=1",
 * "STATUS=..."); returns 1 if sent, 0 if there is no socket, -1 on error. */
int gh_sd_notify(const char *state);

#endif
