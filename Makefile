# prune: build, test, benchmark. `make`, `make test`, `make bench`, `make clean`,
# `make SANITIZE=1 test` (AddressSanitizer + UBSan).
CC ?= gcc
CFLAGS ?= -O3 -march=native
CFLAGS += -DTEST_DATA_DIR=\"$(CURDIR)/tests/data\"
CFLAGS += -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -Iinclude -D_GNU_SOURCE
LDLIBS = -lm

ifeq ($(SANITIZE),1)
  CFLAGS := $(filter-out -O3,$(CFLAGS)) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build/asan
else
  BUILD := build/release
endif

# Dependencies through pkg-config, with the exact Debian package when one is missing.
define need
$(if $(shell pkg-config --exists $(1) && echo yes),,$(error $(1) not found by pkg-config. Install it with: apt-get install -y $(2)))
endef
$(call need,openblas,pkg-config libopenblas-openmp-dev)
$(call need,jansson,libjansson-dev)
CFLAGS += $(shell pkg-config --cflags openblas jansson)
LDLIBS += $(shell pkg-config --libs openblas jansson)

LIB_SRC = $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard kernels/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))

.PHONY: all test bench clean check-cmocka
all: prune

prune: $(BUILD)/prune
	cp $< $@

$(BUILD)/prune: $(BUILD)/src/main.o $(BUILD)/libprune.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libprune.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard include/*.h) $(wildcard kernels/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ikernels -c -o $@ $<

check-cmocka:
	$(call need,cmocka,libcmocka-dev)

$(BUILD)/tests/%: tests/%.c tests/helpers.c tests/helpers.h $(BUILD)/libprune.a | check-cmocka
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ikernels -Itests $(shell pkg-config --cflags cmocka) -o $@ $< tests/helpers.c \
		$(BUILD)/libprune.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

# Every suite runs even if one fails; the target fails if any did.
test: $(TESTS) $(BUILD)/prune
	@fail=0; for t in $(TESTS); do echo "== $$t"; OMP_NUM_THREADS=2 $$t || fail=1; done; \
	echo "== tests/test_cli.sh"; OMP_NUM_THREADS=2 bash tests/test_cli.sh $(BUILD)/prune || fail=1; \
	if [ $$fail -ne 0 ]; then echo "SOME TESTS FAILED"; exit 1; fi; echo "ALL TEST SUITES PASSED"

$(BUILD)/bench/%: bench/%.c $(BUILD)/libprune.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ikernels -o $@ $< $(BUILD)/libprune.a $(LDFLAGS) $(LDLIBS)

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf build prune
