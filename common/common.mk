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

.PHONY: install-common
install-common: $(LIBGH)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/gatehouse
	install -m 0644 $(LIBGH) $(DESTDIR)$(LIBDIR)/
	install -m 0644 common/include/gatehouse/*.h $(DESTDIR)$(INCLUDEDIR)/gatehouse/
INSTALL_HOOKS += install-common
