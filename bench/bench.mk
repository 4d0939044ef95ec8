# Benchmarks: `make bench-queue` (see bench/README.md).
BENCH_QUEUE := build/bench/queue/bench_queue
$(BENCH_QUEUE): build/bench/queue/bench_queue.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS)

.PHONY: bench-queue
bench-queue: $(BENCH_QUEUE)
	./bench/queue/run $(BENCH_QUEUE)

# The libclamav engine shared by nginx's workers (bench/upload/engine_mem.py,
# bench/README.md): generates build/bench/clamdb (bench/clamdb/gen.py) once.
.PHONY: bench-engine-mem
bench-engine-mem: $(NGX_MODULE)
	/usr/bin/python3 bench/upload/engine_mem.py

# What a durable upload costs (gatehouse_upload_sync, bench/README.md):
# the ways to sync, back to back, then the module with sync on and off.
SYNC_BENCH := build/bench/upload/sync_bench
$(SYNC_BENCH): build/bench/upload/sync_bench.o $(LIBGH)
	$(CC) $(BASE_LDFLAGS) -o $@ $^ $(COMMON_LIBS) -lpthread

.PHONY: bench-upload-sync
bench-upload-sync: $(SYNC_BENCH) $(NGX_MODULE) build/bench/upload/loadgen
	$(PYTHON) bench/upload/sync_run

# The verdict cache's saving: a cached repeat, a full scan, a new file
# (bench/upload/cache).
.PHONY: bench-scan-cache
bench-scan-cache: $(NGX_MODULE) build/bench/upload/loadgen
	$(PYTHON) bench/upload/cache

# The inbox's Server-Sent Events: 1000 streams, enqueue-to-receipt p50/p99,
# nginx memory per stream (bench/sse/run, bench/README.md).
.PHONY: bench-sse
bench-sse: programs check-programs
	$(PYTHON) bench/sse/run

# The multi-host mode against one host (bench/notify/cluster, bench/README.md):
# one producer domain's outbox carried by gatehouse-bridge over the socket,
# then through JetStream (3 nodes, 3 replicas; with two notifyds; 1 node).
.PHONY: bench-cluster
bench-cluster: $(BENCH_NOTIFY) $(NOTIFYD_BIN) $(BRIDGE_BIN) $(CLI_BIN)
	$(PYTHON) bench/notify/cluster
