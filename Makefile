# prune: `make` builds ./prune; `make test` runs every suite; `make bench` the benchmarks;
# `make SANITIZE=1 test` the suite under AddressSanitizer + UBSan; `make deps` installs the
# Debian packages; `make clean`. CFLAGS may be overridden (optimisation, -Werror); the
# flags prune needs are added separately.
CC ?= gcc
CFLAGS ?= -O3 -march=native
BUILD := build/release
ifeq ($(SANITIZE),1)
  CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build/asan
endif

DEPS = build-essential pkg-config libopenblas-openmp-dev libcmocka-dev libjansson-dev libpcre2-dev
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

# Dependencies through pkg-config, with the exact Debian package when one is missing.
define need
$(if $(shell pkg-config --exists $(1) 2>/dev/null && echo yes),,$(error $(1) not found by pkg-config. Install it with: apt-get install -y $(2)   (or: make deps)))
endef
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
$(call need,openblas,pkg-config libopenblas-openmp-dev)
$(call need,jansson,libjansson-dev)
$(call need,libpcre2-8,libpcre2-dev)
endif

PRUNE_CFLAGS = $(CFLAGS) -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_GNU_SOURCE \
	-Iinclude -Ikernels -DTEST_DATA_DIR=\"$(CURDIR)/tests/data\" -DPRUNE_SOURCE_DIR=\"$(CURDIR)\" \
	$(shell pkg-config --cflags openblas jansson libpcre2-8 2>/dev/null)
PRUNE_LDLIBS = $(shell pkg-config --libs openblas jansson libpcre2-8 2>/dev/null) -lm

LIB_SRC = $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard kernels/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
HEADERS = $(wildcard include/*.h) $(wildcard kernels/*.h)
TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))

.PHONY: all test bench clean deps check-cmocka demo models
all: prune

prune: $(BUILD)/prune
	cp $< $@

$(BUILD)/prune: $(BUILD)/src/main.o $(BUILD)/libprune.a
	$(CC) $(PRUNE_CFLAGS) $(LDFLAGS) -o $@ $^ $(PRUNE_LDLIBS)

$(BUILD)/libprune.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -c -o $@ $<

check-cmocka:
	$(call need,cmocka,libcmocka-dev)

$(BUILD)/tests/%: tests/%.c tests/helpers.c tests/helpers.h $(BUILD)/libprune.a | check-cmocka
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -Itests $(shell pkg-config --cflags cmocka) -o $@ $< tests/helpers.c \
		$(BUILD)/libprune.a $(LDFLAGS) $(PRUNE_LDLIBS) $(shell pkg-config --libs cmocka)

# Every suite runs even if one fails; the target fails if any did.
test: $(TESTS) $(BUILD)/prune
	@fail=0; for t in $(TESTS); do echo "== $$t"; OMP_NUM_THREADS=2 $$t || fail=1; done; \
	echo "== tests/test_cli.sh"; OMP_NUM_THREADS=2 bash tests/test_cli.sh $(BUILD)/prune || fail=1; \
	if [ $$fail -ne 0 ]; then echo "SOME TESTS FAILED"; exit 1; fi; echo "ALL TEST SUITES PASSED"

$(BUILD)/bench/%: bench/%.c bench/bench_util.h $(BUILD)/libprune.a
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -o $@ $< $(BUILD)/libprune.a $(LDFLAGS) $(PRUNE_LDLIBS)

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# The main job on the bundled model: find the IOI circuit of models/ioi-small (about 30 s).
demo: $(BUILD)/prune
	$(BUILD)/prune models/ioi-small/model.bin models/ioi-small/task.txt --out build/demo-circuit.json

# Retrain the shipped teaching models from their generated corpora (deterministic for a given
# thread count; about 2 minutes on 2 cores). models/README.md has the table.
models: $(BUILD)/prune
	@mkdir -p build/models
	$(BUILD)/prune gen ioi --corpus-text --n 20000 --seed 0 --out build/models/ioi_corpus.txt
	$(BUILD)/prune train --corpus build/models/ioi_corpus.txt --out models/ioi-small --layers 4 \
		--heads 4 --dim 128 --ctx 32 --steps 2000 --batch 32 --vocab-size 800 --seed 0 --threads 2
	$(BUILD)/prune gen ioi --model models/ioi-small/model.bin --n 400 --seed 1 --out models/ioi-small/task.txt

deps:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y $(DEPS)

clean:
	rm -rf build prune
