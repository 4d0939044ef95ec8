# Benchmarks: `make bench-queue` (see bench/README.md).
BENCH_QUEUE := build/bench/queue/bench_queue
$(BENCH_QUEUE): build/bench/queue/bench_queue.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

.PHONY: bench-queue
bench-queue: $(BENCH_QUEUE)
	./bench/queue/run $(BENCH_QUEUE)
