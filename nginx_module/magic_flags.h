/*
 * magic_flags.h - the libmagic flags the module opens its handle with
 * (ngx_http_gatehouse_init.c), shared with the benchmark's bare libmagic
 * anchor (bench/upload/bare_scan.c) so that both measure the same thing.
 */
#ifndef GATEHOUSE_NGX_MAGIC_FLAGS_H
#define GATEHOUSE_NGX_MAGIC_FLAGS_H

#include <magic.h>

#define GH_MAGIC_FLAGS  (MAGIC_MIME_TYPE | MAGIC_ERROR)

#endif /* GATEHOUSE_NGX_MAGIC_FLAGS_H */
