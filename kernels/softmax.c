// softmax.c: softmax, log-softmax and cross-entropy over the first V of Vp logits
// (llm.c pads the vocabulary to Vp; the padded columns are never probabilities).
// Normalisers are summed in double: over V = 50257 terms a float sum loses ~3 digits,
// and KL between nearly equal distributions is a difference of such sums.
#include "kernels.h"

#include <math.h>
#include <stddef.h>

static double row_logsumexp(const float *x, int V) {
    float maxv = -INFINITY;
    for (int i = 0; i < V; i++) maxv = x[i] > maxv ? x[i] : maxv;
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += exp((double)x[i] - maxv);
    return maxv + log(sum);
}

// logits (P,Vp) -> probs (P,V)
void softmax_forward_ref(float *probs, const float *logits, int P, int V, int Vp) {
    for (int p = 0; p < P; p++) {
        const float *x = logits + (size_t)p * Vp;
        double lse = row_logsumexp(x, V);
        for (int i = 0; i < V; i++) probs[(size_t)p * V + i] = (float)exp(x[i] - lse);
    }
}

void softmax_forward(float *probs, const float *logits, int P, int V, int Vp) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) {
        const float *x = logits + (size_t)p * Vp;
        float *o = probs + (size_t)p * V;
        float maxv = -INFINITY;
        for (int i = 0; i < V; i++) maxv = x[i] > maxv ? x[i] : maxv;
        double sum = 0.0;
        for (int i = 0; i < V; i++) {
            o[i] = expf(x[i] - maxv);
            sum += o[i];
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < V; i++) o[i] *= inv;
    }
}

// dprobs (P,V) -> dlogits (P,Vp) += : dx_i = p_i (dp_i - sum_j p_j dp_j)
void softmax_backward_ref(float *dlogits, const float *dprobs, const float *probs, int P, int V,
                          int Vp) {
    for (int p = 0; p < P; p++) {
        const float *pr = probs + (size_t)p * V, *dp = dprobs + (size_t)p * V;
        double dot = 0.0;
        for (int i = 0; i < V; i++) dot += (double)pr[i] * dp[i];
        for (int i = 0; i < V; i++) dlogits[(size_t)p * Vp + i] += pr[i] * (float)(dp[i] - dot);
    }
}

void softmax_backward(float *dlogits, const float *dprobs, const float *probs, int P, int V,
                      int Vp) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) {
        const float *pr = probs + (size_t)p * V, *dp = dprobs + (size_t)p * V;
        float *dl = dlogits + (size_t)p * Vp;
        double dot = 0.0;
        for (int i = 0; i < V; i++) dot += (double)pr[i] * dp[i];
        float fdot = (float)dot;
        for (int i = 0; i < V; i++) dl[i] += pr[i] * (dp[i] - fdot);
    }
}

// logits (P,Vp) -> logp (P,V)
void log_softmax_forward_ref(float *logp, const float *logits, int P, int V, int Vp) {
    for (int p = 0; p < P; p++) {
        const float *x = logits + (size_t)p * Vp;
        double lse = row_logsumexp(x, V);
        for (int i = 0; i < V; i++) logp[(size_t)p * V + i] = (float)(x[i] - lse);
    }
}

void log_softmax_forward(float *logp, const float *logits, int P, int V, int Vp) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) {
        const float *x = logits + (size_t)p * Vp;
        float *o = logp + (size_t)p * V;
        double lse = row_logsumexp(x, V);
        for (int i = 0; i < V; i++) o[i] = (float)(x[i] - lse);
    }
}

// dlogp (P,V) -> dlogits (P,Vp) += : dx_i = dlogp_i - softmax_i * sum_j dlogp_j
void log_softmax_backward_ref(float *dlogits, const float *dlogp, const float *logp, int P, int V,
                              int Vp) {
    for (int p = 0; p < P; p++) {
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += dlogp[(size_t)p * V + i];
        for (int i = 0; i < V; i++)
            dlogits[(size_t)p * Vp + i] +=
                (float)(dlogp[(size_t)p * V + i] - exp(logp[(size_t)p * V + i]) * sum);
    }
}

void log_softmax_backward(float *dlogits, const float *dlogp, const float *logp, int P, int V,
                          int Vp) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) {
        const float *dl = dlogp + (size_t)p * V, *lp = logp + (size_t)p * V;
        float *dx = dlogits + (size_t)p * Vp;
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += dl[i];
        float fsum = (float)sum;
        for (int i = 0; i < V; i++) dx[i] += dl[i] - expf(lp[i]) * fsum;
    }
}

// logp (P,V), targets (P) -> losses (P)
void crossentropy_forward_ref(float *losses, const float *logp, const int *targets, int P, int V) {
    for (int p = 0; p < P; p++) losses[p] = -logp[(size_t)p * V + targets[p]];
}

void crossentropy_forward(float *losses, const float *logp, const int *targets, int P, int V) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) losses[p] = -logp[(size_t)p * V + targets[p]];
}

// dlosses (P) -> dlogp (P,V) +=
void crossentropy_backward_ref(float *dlogp, const float *dlosses, const int *targets, int P,
                               int V) {
    for (int p = 0; p < P; p++) dlogp[(size_t)p * V + targets[p]] -= dlosses[p];
}

void crossentropy_backward(float *dlogp, const float *dlosses, const int *targets, int P, int V) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < P; p++) dlogp[(size_t)p * V + targets[p]] -= dlosses[p];
}
