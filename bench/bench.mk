# Benchmarks: `make bench-queue` (see bench/README.md).
BENCH_QUEUE := build/bench/queue/bench_queue
$(BENCH_QUEUE): build/bench/queue/bench_queue.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

.PHONY: bench-queue
bench-queue: $(BENCH_QUEUE)
	./bench/queue/run $(BENCH_QUEUE)

# The inbox's Server-Sent Events: 1000 streams, enqueue-to-receipt p50/p99,
# nginx memory per stream (bench/sse/run, bench/README.md).
.PHONY: bench-sse
bench-sse: programs
	$(PYTHON) bench/sse/run
