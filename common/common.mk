# libgatehouse: static, built -fPIC (linked into nginx and PAM shared objects).
COMMON_SRCS := $(wildcard common/src/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=build/%.o)
COMMON_SAN_OBJS := $(COMMON_SRCS:%.c=build/asan/%.o)

LIBGH     := build/libgatehouse.a
LIBGH_SAN := build/asan/libgatehouse.a

$(LIBGH): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBGH_SAN): $(COMMON_SAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

PROGRAMS += $(LIBGH)
# Nothing of it is installed: every program links it statically, and its
# API is not (yet) promised to anyone outside this tree.
