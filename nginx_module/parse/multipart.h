/*
 * multipart.h - streaming multipart/form-data parser (RFC 7578, RFC 2046)
 *
 * Plain C with no nginx types, so it can be unit-tested and fuzzed on its
 * own.  The caller owns a struct gw_mp_parser (about 8.5 KiB, no other
 * allocation), pushes the request body through gw_mp_feed() in chunks of any
 * size, as they arrive, and calls gw_mp_finish() at the end of the body.
 * The parser calls back:
 *
 *   part_begin  once per part, with its parsed headers (name, filename,
 *               Content-Type).  The strings point into the parser and are
 *               valid only during the call: copy what you keep.
 *   part_data   zero or more times with the part's bytes, never with len 0.
 *               data points into the caller's chunk or into the parser.
 *   part_end    once the part's closing delimiter has been seen.
 *   error       once, when the parser stops on an error (the same code
 *               gw_mp_feed()/gw_mp_finish() return).  part_end is not called
 *               for a part cut short by an error: clean up in error.
 *
 * A callback returning non-zero stops the parser with GH_MP_EABORTED; the
 * caller knows its own reason.  Errors are sticky: every later call returns
 * the same code.
 *
 * WHAT IS ACCEPTED, AND WHY IT IS STRICT
 *   The module sits in front of applications that parse the body again (or
 *   receive a rewritten body), so any input two parsers could read two ways
 *   is refused rather than guessed at:
 *   - Delimiters need CRLF, as RFC 2046 says; the first one may start the
 *     body.  A delimiter may be followed by up to GH_MP_PADDING_MAX spaces
 *     or tabs (transport padding) before its CRLF.  "\r\n--BOUNDARY" followed
 *     by anything else is not a delimiter and stays part data (RFC 2046
 *     §5.1.1), so file content with lines starting "--" (PEM, PDF, MIME in
 *     MIME) passes through whole.
 *   - Part headers are CRLF-terminated lines, at most limits.max_header_bytes
 *     in all per part; no obsolete line folding, no control characters, no
 *     whitespace before the colon.  The one exception: a quoted filename
 *     may hold control bytes other than CR and LF (browsers send a file's
 *     name as it is; the caller cleans it); CR or LF anywhere in a header
 *     line is still malformed, as it would be header injection.
 *   - Every part needs exactly one "Content-Disposition: form-data" with a
 *     name parameter; name, filename and filename* may each appear once.
 *     filename* (RFC 5987 ext-value) wins over filename and must be UTF-8.
 *     In quoted strings a backslash escapes only '"' and '\'; elsewhere it is
 *     kept, because browsers send Windows paths (C:\dir\f.txt) unescaped.
 *     A plain filename is not percent-decoded.
 *   - Nested multipart (a part whose Content-Type is multipart/..., the
 *     RFC 2388 multiple-files form) is rejected with GH_MP_ENESTED: RFC 7578
 *     §4.3 deprecates it, no current client sends it, and passing it on as
 *     opaque data would carry files past the checks.
 *   - Content-Transfer-Encoding other than 7bit, 8bit or binary is rejected
 *     (GH_MP_EENCODING): base64 content would hide the file's type.
 *   - The preamble is skipped up to limits.max_preamble bytes (a body that
 *     never shows the boundary fails early with GH_MP_ENODELIM); the
 *     epilogue after the close delimiter is ignored.
 *   - A body that ends before the close delimiter is GH_MP_ETRUNCATED.
 *   - Zero-length parts are fine; a close delimiter with no part before it
 *     is an empty form.
 */
#ifndef GATEHOUSE_NGX_MULTIPART_H
#define GATEHOUSE_NGX_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define GH_MP_BOUNDARY_MAX   70     /* RFC 2046 §5.1.1 */
#define GH_MP_HEADER_MAX     8192   /* hard ceiling of a part's header block */
#define GH_MP_PADDING_MAX    32     /* blanks allowed after a delimiter */
#define GH_MP_DEFAULT_PARTS  1000
#define GH_MP_DEFAULT_PREAMBLE 16384

typedef enum gw_mp_err {
	GH_MP_OK = 0,
	GH_MP_ENOTMULTIPART,  /* Content-Type is not multipart/form-data */
	GH_MP_ENOBOUNDARY,    /* no boundary parameter */
	GH_MP_EBOUNDARY,      /* boundary empty, too long, bad, twice */
	GH_MP_ENODELIM,       /* no delimiter within the preamble limit */
	GH_MP_EHEADERSIZE,    /* part headers over the limit */
	GH_MP_EHEADER,        /* malformed part header line */
	GH_MP_EDISPOSITION,   /* Content-Disposition missing or bad */
	GH_MP_ENESTED,        /* part is itself multipart/... */
	GH_MP_EENCODING,      /* Content-Transfer-Encoding not 7/8bit, binary */
	GH_MP_ETOOMANYPARTS,  /* more parts than limits.max_parts */
	GH_MP_EPADDING,       /* too much transport padding after a delimiter */
	GH_MP_ETRUNCATED,     /* body ended before the close delimiter */
	GH_MP_EABORTED,       /* a callback returned non-zero */
	GH_MP_ESTATE,         /* call after finish, or bad arguments */
	GH_MP_ERR_COUNT_
} gw_mp_err;

/* gw_mp_strerror - a short English description, never NULL. */
const char *gw_mp_strerror(gw_mp_err err);

/* gw_mp_errname - "ETRUNCATED" etc., for logs and JSON.  Never NULL. */
const char *gw_mp_errname(gw_mp_err err);

/*
 * gw_mp_boundary - the boundary parameter of a Content-Type header value
 * that must be multipart/form-data (case-insensitive).  The boundary may be
 * a token or a quoted string (with quoted-pairs); after unquoting it must be
 * 1-70 characters of RFC 2046 bchars, not ending in a space.  A boundary
 * parameter given twice is refused (two parsers might pick different ones).
 *   out      receives the boundary, NUL-terminated; out_size must be at
 *            least GH_MP_BOUNDARY_MAX + 1.
 *   out_len  receives its length (may be NULL).
 * Returns GH_MP_OK, GH_MP_ENOTMULTIPART, GH_MP_ENOBOUNDARY, GH_MP_EBOUNDARY
 * or GH_MP_ESTATE (bad arguments).
 */
gw_mp_err gw_mp_boundary(const char *ctype, size_t ctype_len, char *out,
                         size_t out_size, size_t *out_len);

/* One part's headers, as given to part_begin. */
struct gw_mp_part {
	unsigned index;             /* 0 for the first part */
	const char *name;           /* the form field name (never NULL) */
	size_t name_len;
	const char *filename;       /* decoded filename, may hold any byte,
	                               including NUL; NULL without one */
	size_t filename_len;
	int has_filename;           /* filename or filename* given, maybe "" */
	int filename_ext;           /* it came from filename* */
	const char *content_type;   /* media type without parameters, or NULL */
	size_t content_type_len;
};

struct gw_mp_callbacks {
	int (*part_begin)(void *arg, const struct gw_mp_part *part);
	int (*part_data)(void *arg, const unsigned char *data, size_t len);
	int (*part_end)(void *arg);
	void (*error)(void *arg, gw_mp_err err);
};

/* Limits; a zero field takes its default. */
struct gw_mp_limits {
	size_t max_header_bytes;    /* per part; default and ceiling
	                               GH_MP_HEADER_MAX */
	unsigned max_parts;         /* default GH_MP_DEFAULT_PARTS */
	size_t max_preamble;        /* default GH_MP_DEFAULT_PREAMBLE */
};

/* The parser.  Fields are private; the struct is public so callers can
 * place it anywhere (stack, pool) without another allocation. */
struct gw_mp_parser {
	const struct gw_mp_callbacks *cb;
	void *arg;
	struct gw_mp_limits lim;
	int state;
	int in_body;                /* delimiters close a part (not preamble) */
	gw_mp_err err;
	size_t delim_len;
	size_t match;               /* delimiter bytes matched so far */
	size_t tail_len;            /* bytes seen after a full delimiter */
	size_t hdr_len;
	unsigned parts;
	uint64_t offset;            /* body bytes consumed */
	uint64_t preamble;          /* preamble bytes skipped */
	unsigned char delim[4 + GH_MP_BOUNDARY_MAX];
	unsigned char tail[GH_MP_PADDING_MAX + 2];
	char hdr[GH_MP_HEADER_MAX];
};

/*
 * gw_mp_init - prepare p for one body.  boundary is as gw_mp_boundary()
 * returns it; limits may be NULL; cb is kept (not copied) and must outlive p.
 * Returns GH_MP_OK or GH_MP_EBOUNDARY.
 */
gw_mp_err gw_mp_init(struct gw_mp_parser *p, const char *boundary,
                     size_t boundary_len, const struct gw_mp_limits *limits,
                     const struct gw_mp_callbacks *cb, void *arg);

/* gw_mp_feed - push len bytes of body.  Returns GH_MP_OK or the error the
 * parser stopped on. */
gw_mp_err gw_mp_feed(struct gw_mp_parser *p, const void *data, size_t len);

/* gw_mp_finish - the body has ended.  GH_MP_OK if the close delimiter was
 * seen; GH_MP_ENODELIM if no delimiter ever was; GH_MP_ETRUNCATED else. */
gw_mp_err gw_mp_finish(struct gw_mp_parser *p);

/* gw_mp_done - non-zero once the close delimiter has been seen. */
int gw_mp_done(const struct gw_mp_parser *p);

/* gw_mp_offset - body bytes consumed so far (where an error happened). */
uint64_t gw_mp_offset(const struct gw_mp_parser *p);

/*
 * gw_mp_quote_name - a field name as the inside of the quoted string
 * name="..." of a Content-Disposition header, for a body made anew (the
 * nginx module's gatehouse_upload_pass).  '"', CR and LF become %22, %0D
 * and %0A, as browsers write them (WHATWG HTML, multipart/form-data
 * encoding).  '\' becomes "\\": browsers leave it alone, but receivers
 * read quoted-pairs, some only "\\" and "\"" (this parser, PHP), some
 * more (Go's mime before any tspecial, Python's email before anything), and
 * a doubled backslash is the one form they all read back as '\'; a lone
 * one could turn the closing quote into data.  Other bytes are copied.
 *   dst       receives at most dst_size bytes, not NUL-terminated; NULL
 *             (with dst_size 0) only measures.
 * Returns the length of the whole quoted name; when that is over dst_size
 * only the first dst_size bytes were written (measure first).
 */
size_t gw_mp_quote_name(char *dst, size_t dst_size, const char *name,
                        size_t len);

#endif /* GATEHOUSE_NGX_MULTIPART_H */
