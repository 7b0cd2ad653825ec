// helpers.h: small things every test suite shares: random fills, float comparison with
// stated tolerances, central finite differences, temporary files, the tiny model.
#ifndef PRUNE_TEST_HELPERS_H
#define PRUNE_TEST_HELPERS_H

// cmocka needs these before its header.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpt2.h"
#include "rng.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

void fill_normal(float *x, size_t n, Rng *r, float scale);

// Fails the test unless |a[i] - b[i]| <= atol + rtol * |b[i]| for every i; the message
// names the worst index.
void assert_close(const char *what, const float *a, const float *b, size_t n, double atol,
                  double rtol);

// A scalar loss of some inputs, evaluated in double.
typedef double (*LossFn)(void *ctx);
// Compares the analytic gradient g of loss w.r.t. x[idx[k]] with central differences
// (x +- eps). idx NULL means every index 0..n-1. Tolerance: atol + rtol * |fd|.
void fd_check(const char *what, LossFn loss, void *ctx, float *x, const float *g,
              const size_t *idx, size_t n, float eps, double atol, double rtol);
// The same comparison without failing: the number of entries out of tolerance (the first
// one described in msg). fd_check is this plus a test failure, so the checker itself can
// be tested on a wrong gradient.
size_t fd_count(LossFn loss, void *ctx, float *x, const float *g, const size_t *idx, size_t n,
                float eps, double atol, double rtol, char *msg, size_t msg_cap);

// sum_i out[i] * r[i] in double: a random linear read-out makes every output matter.
double dot_d(const float *out, const float *r, size_t n);

// A fresh temporary folder for this process (created on first use) and a path in it.
const char *tmp_path(const char *name);
int write_bytes(const char *path, const void *data, size_t n);
// Fails the test unless dir1/name and dir2/name have the same bytes.
void assert_same_file(const char *dir1, const char *dir2, const char *name);

// A tiny GPT-2: V=11, Vp=16, maxT=8, L=2, NH=2, C=8; weights ~ N(0, std).
GPT2Config tiny_config(void);
// A tiny Llama-family config: L 2, 4 query heads over 2 K/V heads of size 4 (A = 16) on C 12,
// SwiGLU H 10, RMSNorm, rotate-half RoPE, q/k/v biases (Qwen2), an untied lm_head.
GPT2Config tiny_llama_config(void);

// Writes a model as a Hugging Face safetensors file (Conv1D (in, out) layout) in dtype
// "F32", "F16" or "BF16" (with lm_head.weight when the model's head is untied); prefix "" or "transformer.". nshards > 1 writes
// model-0000k-of-0000n.safetensors files and model.safetensors.index.json into dir.
int write_hf_model(const char *dir, const GPT2 *m, const char *dtype, const char *prefix,
                   int nshards);
// bf16 and f16 rounding used by write_hf_model, for expected values.
float round_bf16(float x);
float round_f16(float x);

#endif
