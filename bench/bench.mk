# Benchmarks: `make bench-queue` (see bench/README.md).
BENCH_QUEUE := build/bench/queue/bench_queue
$(BENCH_QUEUE): build/bench/queue/bench_queue.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

.PHONY: bench-queue
bench-queue: $(BENCH_QUEUE)
	./bench/queue/run $(BENCH_QUEUE)

# The verdict cache's saving: a cached repeat, a full scan, a new file
# (bench/upload/cache).
.PHONY: bench-scan-cache
bench-scan-cache: $(NGX_MODULE) build/bench/upload/loadgen
	$(PYTHON) bench/upload/cache
