/*
 * gscan_int.h - between gscan.c (the engine, libclamav) and gscan_clamd.c
 * (the clamd backend); not part of the library's API (gscan.h).
 */
#ifndef GATEHOUSE_GSCAN_INT_H
#define GATEHOUSE_GSCAN_INT_H

#include <stddef.h>

#include "gscan.h"

/* gscan_set_verdict - fill v (name copied, cut to fit). */
void gscan_set_verdict(struct gscan_verdict *v, enum gscan_kind kind,
    enum gscan_reason reason, const char *name);

/* Scan the file open on fd (from offset 0) or len bytes at buf with the
 * clamd at sock, each reply waited for at most timeout_ms. */
void gscan_clamd_fd(const char *sock, int timeout_ms, int fd,
    struct gscan_verdict *v);
void gscan_clamd_mem(const char *sock, int timeout_ms, const void *buf,
    size_t len, struct gscan_verdict *v);

/* clamd's reply to VERSION into out (NUL-terminated, control bytes
 * dropped); GH_EIO with detail when clamd cannot be asked. */
gh_err gscan_clamd_ask_version(const char *sock, int timeout_ms, char *out,
    size_t out_len, char *detail, size_t detail_len);

#endif /* GATEHOUSE_GSCAN_INT_H */
