// block.c: the model, written once. One transformer block forward and backward, the
// embedding and the head (final norm + unembedding); the plain forward, training and the
// circuit search all call these, the search through taps (gpt2.h) at the gated points.
// This is the only file outside kernels/ that calls the norm, attention and activation
// kernels, so a model family's variant of a part (RMSNorm, RoPE, SwiGLU, GQA) is a switch
// here. It does not know what a gate is: a tap is a gate vector and a reference.
//
// Shapes: rows = B T (B counts both streams when the search runs two), C channels,
// A = NH hs the heads' width, QKV = (NH + 2 NKV) hs, H the MLP width.
#include <string.h>

#include "gpt2.h"
#include "kernels.h"

LayerWeights gpt2_layer_weights(const GPT2 *m, int l) {
    LayerGrads g = gpt2_layer_grads((ParameterTensors *)&m->params, &m->config, l);
    LayerWeights w = {g.ln1w, g.ln1b, g.qkvw, g.qkvb, g.attprojw, g.attprojb,
                      g.ln2w, g.ln2b, g.fcw,  g.fcb,  g.fcprojw,  g.fcprojb};
    return w;
}

// Layer l's slice of each per-layer tensor, sized by the parameter table.
LayerGrads gpt2_layer_grads(const ParameterTensors *p, const GPT2Config *c, int l) {
    ParamSpec t[NUM_PARAM_TENSORS];
    gpt2_param_table(t, c);
    float *f[NUM_PARAM_TENSORS];
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        float *base = *param_field((ParameterTensors *)p, (ParamId)i);
        // a tensor the variant does not have (0 rows) is NULL: kernels skip a NULL bias
        f[i] = base && param_layer_floats(&t[i]) ? base + (t[i].per_layer ? (size_t)l * param_layer_floats(&t[i]) : 0) : NULL;
    }
    LayerGrads g = {f[P_LN1W], f[P_LN1B], f[P_QKVW], f[P_QKVB], f[P_ATTPROJW], f[P_ATTPROJB],
                    f[P_LN2W], f[P_LN2B], f[P_FCW],  f[P_FCB],  f[P_FCPROJW],  f[P_FCPROJB]};
    return g;
}

// Rows [0, row0) of a block output pass through; rows [row0, rows) are gated by tap t:
// out = resid + z x + (1 - z) x_ref. No tap: out = resid + x.
static void add_block_output(float *out, const float *resid, const float *x, const Tap *t, int row0,
                             int rows, int D) {
    if (!t) {
        residual_forward(out, resid, x, (size_t)rows * D);
        return;
    }
    size_t o = (size_t)row0 * D;
    if (row0) residual_forward(out, resid, x, o);
    interchange_residual_forward(out + o, resid + o, x + o, t->ref, t->ref_stride, t->z, rows - row0, D);
}

// Gates the rows [row0, rows) of x (rows, D) into out; rows before row0 are copied when out
// is another buffer (with out == x the gating is in place).
static void gate_rows(float *out, const float *x, const Tap *t, int row0, int rows, int D) {
    size_t o = (size_t)row0 * D;
    if (row0 && out != x) memcpy(out, x, sizeof(float) * o);
    interchange_forward(out + o, x + o, t->ref, t->ref_stride, t->z, rows - row0, D);
}

// The family's switches: LayerNorm or RMSNorm; learned positions (in the embedding) or
// RoPE on q and k; GELU on one projection or SwiGLU on the fused gate/up projection.
static void norm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                         const float *b, int N, const GPT2Config *c) {
    if (c->norm == NORM_RMSNORM)
        rmsnorm_forward(out, rstd, inp, w, N, c->C, c->norm_eps);
    else
        layernorm_forward(out, mean, rstd, inp, w, b, N, c->C);
}

static void norm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const float *mean, const float *rstd, int N,
                          const GPT2Config *c) {
    if (c->norm == NORM_RMSNORM)
        rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, c->C);
    else
        layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, c->C);
}

// RoPE on the q and k heads of qkv (B,T,QKV), or its inverse on their gradient.
static void rope(float *qkv, const GPT2Config *c, int B, int T, int backward) {
    if (c->pos == POS_LEARNED) return;
    float inv[ROPE_MAXHALF];
    rope_inv_freq(inv, c);
    int inter = c->pos == POS_ROPE_INTERLEAVED;
    if (backward)
        rope_backward(qkv, inv, B, T, c->NH, c->NKV, c->hs, inter);
    else
        rope_forward(qkv, inv, B, T, c->NH, c->NKV, c->hs, inter);
}

void block_forward(float *out, LayerActs *a, const float *inp, const LayerWeights *w,
                   const GPT2Config *c, int B, int T, const BlockTaps *tp) {
    int BT = B * T, C = c->C, A = cfg_attn_width(c), QKV = cfg_qkv_width(c), H = c->H;
    int r0 = tp ? tp->row0 : 0;
    const float *heads = a->atty, *neurons = a->fch_gelu;
    norm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, inp, w->ln1w, w->ln1b, BT, c);
    matmul_forward(a->qkv, a->ln1, w->qkvw, w->qkvb, BT, C, QKV);
    rope(a->qkv, c, B, T, 0);
    attention_forward(a->atty, a->att, a->qkv, B, T, c->NH, c->NKV, c->hs);
    if (tp) gate_rows(tp->heads_out, a->atty, &tp->heads, r0, BT, A), heads = tp->heads_out;
    // Recomputation with the mid residual kept: the backward does without the attention
    // projection's output (see block_backward), so it is not recomputed.
    if (!(tp && tp->keep_mid && !out)) {
        matmul_forward(a->attproj, heads, w->attprojw, w->attprojb, BT, A, C);
        add_block_output(a->resid2, inp, a->attproj, tp ? &tp->attn : NULL, r0, BT, C);
    }
    norm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->resid2, w->ln2w, w->ln2b, BT, c);
    if (c->mlp == MLP_SWIGLU) {
        matmul_forward(a->fch, a->ln2, w->fcw, NULL, BT, C, 2 * H);
        swiglu_forward(a->fch_gelu, a->fch, BT, H);
    } else {
        matmul_forward(a->fch, a->ln2, w->fcw, NULL, BT, C, H);
        bias_gelu_forward(a->fch_gelu, a->fch, w->fcb, BT, H);
    }
    if (tp) gate_rows(tp->neurons_out, a->fch_gelu, &tp->neurons, r0, BT, H), neurons = tp->neurons_out;
    matmul_forward(a->fcproj, neurons, w->fcprojw, w->fcprojb, BT, H, C);
    if (out) add_block_output(out, a->resid2, a->fcproj, tp ? &tp->mlp : NULL, r0, BT, C);
}

// dinp = dout W (written); with g, also W's and the bias's gradients (added).
static void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int N, int IC, int OC) {
    matmul_backward_data(dinp, dout, weight, N, IC, OC);
    if (dweight) matmul_backward(NULL, dweight, dbias, dout, inp, weight, N, IC, OC);
}

// With taps the block is the clean stream alone (row0 = 0): the search's backward runs
// one stream (the reference stream is ungated and needs no gradient).
void block_backward(float *dresid, BlockGrads *d, LayerGrads *g, const LayerActs *a,
                    const float *inp, const LayerWeights *w, const GPT2Config *c, int B, int T,
                    const BlockTaps *tp) {
    int BT = B * T, C = c->C, A = cfg_attn_width(c), QKV = cfg_qkv_width(c), H = c->H;
    CHECK(!tp || tp->row0 == 0);  // the backward runs the clean stream alone
    const float *neurons = tp ? tp->neurons_out : a->fch_gelu, *heads = tp ? tp->heads_out : a->atty;
    // out = mid + mlp_out: dresid is also d mid, to which the MLP's norm adds below
    const float *dy = dresid;
    if (tp) {
        interchange_backward(d->dout, tp->mlp.dz, dresid, a->fcproj, tp->mlp.ref, tp->mlp.ref_stride, tp->mlp.z, BT, C);
        dy = d->dout;
    }
    linear_backward(d->dhidden, g ? g->fcprojw : NULL, g ? g->fcprojb : NULL, dy, neurons, w->fcprojw, BT, H, C);
    if (tp)
        interchange_backward(d->dhidden, tp->neurons.dz, d->dhidden, a->fch_gelu, tp->neurons.ref,
                             tp->neurons.ref_stride, tp->neurons.z, BT, H);
    if (c->mlp == MLP_SWIGLU) {
        swiglu_backward(d->dfch, a->fch, d->dhidden, BT, H);
        linear_backward(d->dln, g ? g->fcw : NULL, NULL, d->dfch, a->ln2, w->fcw, BT, C, 2 * H);
    } else {
        gelu_backward_inplace(d->dhidden, a->fch, d->dhidden, (size_t)BT * H);
        linear_backward(d->dln, g ? g->fcw : NULL, g ? g->fcb : NULL, d->dhidden, a->ln2, w->fcw, BT, C, H);
    }
    norm_backward(dresid, g ? g->ln2w : NULL, g ? g->ln2b : NULL, d->dln, a->resid2, w->ln2w,
                  a->ln2_mean, a->ln2_rstd, BT, c);
    // mid = inp + attn_out. With a tap, attn_out = z y + (1 - z) ref with one z for the block
    // and y = heads W^T + b: u = dresid W is the data gradient (times z) and, with the gated
    // heads, gives the gate's gradient without y (interchange_dz_linear).
    linear_backward(d->dheads, g ? g->attprojw : NULL, g ? g->attprojb : NULL, dresid, heads, w->attprojw, BT, A, C);
    if (tp) {
        tp->attn.dz[0] += (float)interchange_dz_linear(heads, d->dheads, w->attprojb, tp->attn.ref,
                                                       tp->attn.ref_stride, dresid, BT, A, C);
        float zb = tp->attn.z[0];
        size_t NA = (size_t)BT * A;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < NA; i++) d->dheads[i] *= zb;
        interchange_backward(d->dheads, tp->heads.dz, d->dheads, a->atty, tp->heads.ref, tp->heads.ref_stride,
                             tp->heads.z, BT, A);
    }
    memset(d->dqkv, 0, sizeof(float) * (size_t)BT * QKV);
    attention_backward(d->dqkv, d->datt, d->dheads, a->qkv, a->att, B, T, c->NH, c->NKV, c->hs);
    rope(d->dqkv, c, B, T, 1);
    linear_backward(d->dln, g ? g->qkvw : NULL, g ? g->qkvb : NULL, d->dqkv, a->ln1, w->qkvw, BT, C, QKV);
    norm_backward(dresid, g ? g->ln1w : NULL, g ? g->ln1b : NULL, d->dln, inp, w->ln1w, a->ln1_mean,
                  a->ln1_rstd, BT, c);
}

void block_neurons_recompute(float *out, const LayerActs *a, const GPT2Config *c, int B, int T) {
    if (c->mlp == MLP_SWIGLU)
        swiglu_forward(out, a->fch, B * T, c->H);
    else
        gelu_forward(out, a->fch, (size_t)B * T * c->H);
}

void embed_forward(float *out, const int *tokens, const GPT2 *m, int B, int T) {
    encoder_forward(out, tokens, m->params.wte, m->params.wpe, B, T, m->config.C);
}

void head_forward(float *logits, float *lnf_in, float *lnf, float *mean, float *rstd,
                  const float *resid, const int *pos, int P, const GPT2 *m) {
    const GPT2Config *c = &m->config;
    gather_forward(lnf_in, resid, pos, P, c->C);
    norm_forward(lnf, mean, rstd, lnf_in, m->params.lnfw, m->params.lnfb, P, c);
    logits_forward(logits, lnf, m->params.lm_head ? m->params.lm_head : m->params.wte, P, c->C, c->Vp);
}

void head_backward(float *dresid, float *dlnf_in, float *dlnf, ParameterTensors *grads,
                   const float *dlogits, const float *lnf_in, const float *lnf, const float *mean,
                   const float *rstd, const int *pos, int P, const GPT2 *m) {
    const GPT2Config *c = &m->config;
    memset(dlnf, 0, sizeof(float) * (size_t)P * c->C);
    memset(dlnf_in, 0, sizeof(float) * (size_t)P * c->C);
    int untied = m->params.lm_head != NULL;
    logits_backward(dlnf, grads ? (untied ? grads->lm_head : grads->wte) : NULL, dlogits, lnf,
                    untied ? m->params.lm_head : m->params.wte, P, c->C, c->Vp);
    norm_backward(dlnf_in, grads ? grads->lnfw : NULL, grads ? grads->lnfb : NULL, dlnf, lnf_in,
                  m->params.lnfw, mean, rstd, P, c);
    gather_backward(dresid, dlnf_in, pos, P, c->C);
}
