/*
 * esc.h - the gatehouse command's one way to print text for a person.
 *
 * Every string the command shows may come from a producer the admin does
 * not control: an upload's file name, a mail subject, a user name typed at
 * an ssh prompt, a key file's name.  Printed raw, such a string can drive
 * the admin's terminal (ESC and CSI sequences clear the screen, move the
 * cursor over earlier lines, set the window title), fake extra lines (LF,
 * CR), or disguise itself (bidi overrides, zero-width characters).  So the
 * command prints through cli_printf() and friends, which escape every
 * string argument, and cli.h poisons the plain stdio printers.
 *
 * The escaped form (also in gatehouse(1), OUTPUT):
 *   TAB, LF, CR                    \t \n \r
 *   other C0 bytes, DEL            \xhh      (ESC is \x1b)
 *   bytes that are not UTF-8       \xhh      (each byte: a stray 0x9b, 0xff)
 *   C1 controls U+0080-U+009F,     \u{hhhh}  (U+202E is \u{202e})
 *   format characters (bidi controls, zero-width ones, U+2028, U+2029,
 *   tags...) and other invisible ones (fillers, default ignorables)
 * Everything else, backslash included, is printed as it is: --json shows
 * the exact value.
 */
#ifndef GATEHOUSE_CLI_ESC_H
#define GATEHOUSE_CLI_ESC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* The longest escape of one character: "\u{10ffff}". */
#define CLI_ESC_MAX 10

/*
 * cli_escape - the n bytes at s, escaped as above, into out (cap bytes,
 * NUL-terminated when cap > 0, cut between escapes when short).  Returns
 * the length the whole escaped text needs, without the NUL, as snprintf
 * does: out == NULL with cap 0 measures.
 */
size_t cli_escape(char *out, size_t cap, const char *s, size_t n);

/*
 * cli_vfprintf - vfprintf whose %s and %c arguments are printed escaped
 * (width and precision as printf: precision counts the argument's bytes,
 * width pads the escaped text).  The format itself is the program's own
 * and is printed as it is.  Takes the conversions of printf but %n and the
 * wide %lc, %ls; returns the bytes written or -1 (errno set).
 */
int cli_vfprintf(FILE *fp, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
int cli_fprintf(FILE *fp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* To stdout and stderr. */
int cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
