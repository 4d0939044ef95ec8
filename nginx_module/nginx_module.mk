# nginx_module/nginx_module.mk - ngx_http_gatehouse_module.so, the dynamic
# nginx module, with the unit tests and the fuzz targets of its plain-C parts
# (multipart parser, filename sanitizer, categories, image headers).
#
# The .so is built by nginx's own build system against Debian's nginx-dev
# tree (see nginx_module/build-module): configured once in build/nginx/src
# with the flags Debian's nginx was built with, then `make modules`.

NGX_SRC_DIR ?= /usr/share/nginx/src
NGX_BUILD   := build/nginx
NGX_MODULE  := $(NGX_BUILD)/ngx_http_gatehouse_module.so

NGXMOD_INPUTS := $(wildcard nginx_module/*.c nginx_module/*.h) \
	nginx_module/config nginx_module/build-module nginx_module/module.map

$(NGX_MODULE): $(NGXMOD_INPUTS) $(LIBGH) $(LIBGSCAN) scanner/gscan.h scanner/gscache.h \
		$(wildcard common/include/gatehouse/*.h)
	NGX_CC_OPT="$(strip $(CPPFLAGS) $(CFLAGS))" NGX_LD_OPT="$(strip $(LDFLAGS))" \
	  nginx_module/build-module $(NGX_SRC_DIR) $(NGX_BUILD)

PROGRAMS += $(NGX_MODULE)
.PHONY: nginx
nginx: $(NGX_MODULE)
DIST += $(NGX_MODULE)

# Where Debian's nginx loads modules from, and the load snippet Debian's
# libnginx-mod-* packages put in modules-available (the package's postinst
# links it into /etc/nginx/modules-enabled; `make install` does not).
NGX_MODDIR ?= /usr/lib/nginx/modules
.PHONY: install-nginx
install-nginx: $(NGX_MODULE)
	install -d $(DESTDIR)$(NGX_MODDIR) $(DESTDIR)$(DATADIR)/nginx/modules-available \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(NGX_MODULE) $(DESTDIR)$(NGX_MODDIR)/
	echo 'load_module modules/ngx_http_gatehouse_module.so;' > \
	  $(DESTDIR)$(DATADIR)/nginx/modules-available/mod-http-gatehouse.conf
	install -m 0644 conf/nginx-gatehouse.conf.sample $(DESTDIR)$(DOCDIR)/examples/
INSTALL_HOOKS += install-nginx

# Unit tests (cmocka, sanitized objects), named like the library's.
build/asan/tests/unit/nginx_module/test_multipart: build/asan/tests/unit/nginx_module/test_multipart.o \
		build/asan/nginx_module/parse/multipart.o $(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(CMOCKA_LIBS)

build/asan/tests/unit/nginx_module/test_filename: build/asan/tests/unit/nginx_module/test_filename.o \
		build/asan/nginx_module/parse/filename.o build/asan/nginx_module/parse/category.o \
		$(LIBGH_SAN)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(COMMON_LIBS) $(CMOCKA_LIBS)

build/asan/tests/unit/nginx_module/test_imagehdr: build/asan/tests/unit/nginx_module/test_imagehdr.o \
		build/asan/nginx_module/parse/imagehdr.o
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)

build/asan/tests/unit/nginx_module/test_imgbudget: build/asan/tests/unit/nginx_module/test_imgbudget.o \
		build/asan/nginx_module/parse/imgbudget.o
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) -lpthread

build/asan/tests/unit/nginx_module/test_imgjpeg: build/asan/tests/unit/nginx_module/test_imgjpeg.o \
		build/asan/nginx_module/parse/imgjpeg.o build/asan/nginx_module/parse/imagehdr.o
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) -lgd -ljpeg

UNIT_TESTS += build/asan/tests/unit/nginx_module/test_multipart \
	build/asan/tests/unit/nginx_module/test_filename \
	build/asan/tests/unit/nginx_module/test_imagehdr \
	build/asan/tests/unit/nginx_module/test_imgbudget \
	build/asan/tests/unit/nginx_module/test_imgjpeg

INTEG_TESTS += tests/integration/nginx_module

# libFuzzer target for the multipart parser (and the sanitizer on every
# filename it yields), run for FUZZ_TIME seconds on a scratch corpus seeded
# from tests/fuzz/corpus/multipart.
FUZZ_CC   ?= clang
NGXMOD_FUZZ_SRCS := nginx_module/parse/multipart.c nginx_module/parse/filename.c \
	nginx_module/parse/category.c common/src/text.c

build/fuzz/fuzz_multipart: tests/fuzz/fuzz_multipart.c $(NGXMOD_FUZZ_SRCS) \
		nginx_module/parse/multipart.h nginx_module/parse/filename.h \
		nginx_module/parse/category.h common/include/gatehouse/text.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(WARN) -g -O1 \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Icommon/include -o $@ tests/fuzz/fuzz_multipart.c $(NGXMOD_FUZZ_SRCS) \
		$(shell $(PKG_CONFIG) --libs jansson)

.PHONY: fuzz-nginx
fuzz-nginx: build/fuzz/fuzz_multipart
	@mkdir -p build/fuzz/corpus-multipart
	@echo "fuzz: fuzz_multipart for $(FUZZ_TIME)s (log: build/fuzz/multipart.log)"
	@./build/fuzz/fuzz_multipart -max_total_time=$(FUZZ_TIME) \
		-max_len=16384 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-multipart tests/fuzz/corpus/multipart \
		> build/fuzz/multipart.log 2>&1 || \
		{ tail -50 build/fuzz/multipart.log; exit 1; }
	@grep -E "^Done" build/fuzz/multipart.log || true

FUZZ_TARGETS += fuzz-nginx

# libFuzzer target for the image decode path: the header parser and its
# pixel cap, then libgd's decoders (and libexif) on what it lets through,
# and the module's own JPEG decode and encode (imgjpeg.c), as
# ngx_http_gatehouse_image.c calls them.
build/fuzz/fuzz_image: tests/fuzz/fuzz_image.c nginx_module/parse/imagehdr.c \
		nginx_module/parse/imagehdr.h nginx_module/parse/imgjpeg.c \
		nginx_module/parse/imgjpeg.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(WARN) -g -O1 \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ tests/fuzz/fuzz_image.c nginx_module/parse/imagehdr.c \
		nginx_module/parse/imgjpeg.c -lgd -lexif -ljpeg

.PHONY: fuzz-image
fuzz-image: build/fuzz/fuzz_image
	@mkdir -p build/fuzz/corpus-image
	@echo "fuzz: fuzz_image for $(FUZZ_TIME)s (log: build/fuzz/image.log)"
	@./build/fuzz/fuzz_image -max_total_time=$(FUZZ_TIME) \
		-max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-image tests/fuzz/corpus/image \
		> build/fuzz/image.log 2>&1 || \
		{ tail -50 build/fuzz/image.log; exit 1; }
	@grep -E "^Done" build/fuzz/image.log || true

FUZZ_TARGETS += fuzz-image

# The upload benchmark (bench/upload, bench/README.md): plain nginx, the
# module, and a Flask application, with the same files, one run per
# workload (new files, the same file again), then the engine's memory with
# 4 workers and the large generated database (bench-engine-mem).
BENCH_UPLOAD_BINS := build/bench/upload/loadgen build/bench/upload/bare_scan

build/bench/upload/loadgen: build/bench/upload/loadgen.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^ -lpthread

build/bench/upload/bare_scan: build/bench/upload/bare_scan.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^ -lclamav -lcrypto -lmagic

.PHONY: bench-upload
bench-upload: $(NGX_MODULE) $(BENCH_UPLOAD_BINS)
	BENCH_WORKLOAD=new $(PYTHON) bench/upload/run
	BENCH_WORKLOAD=repeat $(PYTHON) bench/upload/run
	$(PYTHON) bench/upload/engine_mem.py

# Images (bench/README.md): strip + thumbnail of a 12-megapixel JPEG in
# the module against a Python application's Pillow way, one run.
.PHONY: bench-images
bench-images: $(NGX_MODULE) build/bench/upload/loadgen
	$(PYTHON) bench/upload/images

# What libmagic costs per file type with each set of flags the module
# could use (bench/README.md, "libmagic options").
build/bench/upload/magic_cost: build/bench/upload/magic_cost.o
	$(CC) $(BASE_LDFLAGS) -o $@ $^ -lmagic

.PHONY: bench-magic
bench-magic: build/bench/upload/magic_cost
	rm -rf build/bench/upload/magic-samples
	$(PYTHON) bench/upload/magic_samples.py build/bench/upload/magic-samples >/dev/null
	build/bench/upload/magic_cost 200 build/bench/upload/magic-samples/*
