/*
 * gatehouse/journal.h - is standard error systemd's journal, and the
 * priority prefix a line written there takes
 *
 * Under systemd a service's stderr is a stream socket to journald, and
 * systemd puts "DEVICE:INODE" of that stream in JOURNAL_STREAM
 * (systemd.exec(5)).  journald reads a line that starts with "<N>", N a
 * syslog priority (sd-daemon.h's SD_ERR "<3>", SD_WARNING "<4>", ...), at
 * that priority and strips the prefix; any other line is stored at the
 * unit's default, info, so `journalctl -p err` would miss every error.
 *
 * The variable is inherited by children whose stderr may be something else
 * (a file, a pipe, a terminal), so it counts only when descriptor 2 is that
 * very stream: the device and inode of fstat(2) must be the ones it names,
 * as systemd.exec(5) prescribes.
 *
 * The library never logs: the daemons' own loggers (notifyd's log.c, the
 * milter's mlog.c, the bridge) ask once at start and prefix their lines.
 */
#ifndef GATEHOUSE_JOURNAL_H
#define GATEHOUSE_JOURNAL_H

/* gh_journal_stderr - 1 when descriptor 2 is the stream $JOURNAL_STREAM
 * names, else 0 (unset, malformed, or another file). */
int gh_journal_stderr(void);

/* gh_journal_prefix - "<N>" for a syslog(3) priority (LOG_ERR -> "<3>",
 * LOG_WARNING -> "<4>", LOG_NOTICE -> "<5>", LOG_INFO -> "<6>",
 * LOG_DEBUG -> "<7>"); facility bits are ignored.  A static string. */
const char *gh_journal_prefix(int prio);

#endif /* GATEHOUSE_JOURNAL_H */
