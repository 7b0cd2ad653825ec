// load_hf.c: Hugging Face models: a folder (model.safetensors or a sharded
// model.safetensors.index.json, plus config.json), F32/F16/BF16 tensors, every load copied
// into one fp32 buffer.
//  - GPT-2 (model_type gpt2): names with or without the "transformer." prefix; Conv1D
//    weights are stored (in, out) and transposed into llm.c's (out, in) layout; n_inner,
//    gelu_new/gelu_fast/gelu_pytorch_tanh and a tied or untied lm_head.
//  - The Llama family (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM; model_type
//    llama, qwen2, mistral): model.layers.{l}.self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
//    input_layernorm / post_attention_layernorm, model.embed_tokens, model.norm, lm_head.
//    nn.Linear weights are (out, in) already; q/k/v go into the fused qkvw rows and gate/up
//    into the fused fcw rows. Their q/k rows are stored for rotate-half RoPE (the
//    conversion from Meta's layout permutes them), so the block uses POS_ROPE_HALVES.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"

static int dtype_size(const char *d) {
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16")) return 2;
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64")) return 8;
    if (!strcmp(d, "U8") || !strcmp(d, "I8") || !strcmp(d, "BOOL") || !strcmp(d, "F8_E4M3") ||
        !strcmp(d, "F8_E5M2"))
        return 1;
    return 0;
}

void st_header_free(StHeader *h) {
    free(h->t);
    h->t = NULL;
    h->n = 0;
}

static int json_error(PruneErr *err, const char *path, const char *what, const json_error_t *je) {
    return perr(err, "%s: %s is not valid JSON: %s (line %d, column %d). Hint: the file is "
                     "damaged or not what it claims to be.", path, what, je->text, je->line,
                je->column);
}

static const char *json_typename(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int by_begin(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

// Two tensors may not share bytes: each non-empty [begin, end) is disjoint from the others
// (empty tensors own no bytes). Checked in order of begin, so n log n.
static int check_overlaps(const StHeader *h, const char *path, PruneErr *err) {
    if (h->n < 2) return 0;
    const StTensor **o = malloc(sizeof *o * (size_t)h->n);
    if (!o) return perr(err, "%s: out of memory checking the safetensors header.", path);
    int n = 0;
    for (int i = 0; i < h->n; i++)
        if (h->t[i].end > h->t[i].begin) o[n++] = &h->t[i];
    qsort(o, (size_t)n, sizeof *o, by_begin);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (o[i]->begin < o[i - 1]->end)
            rc = perr(err, "%s: tensors '%s' (data_offsets [%zu, %zu]) and '%s' ([%zu, %zu]) "
                           "overlap. Hint: the header is damaged; in a safetensors file every "
                           "tensor has bytes of its own.", path, o[i - 1]->name, o[i - 1]->begin,
                      o[i - 1]->end, o[i]->name, o[i]->begin, o[i]->end);
    free(o);
    return rc;
}

int st_parse_header(const char *json, size_t n, size_t data_len, const char *path, StHeader *h,
                    PruneErr *err) {
    h->t = NULL;
    h->n = 0;
    json_error_t je;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) return json_error(err, path, "the safetensors header", &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return perr(err, "%s: the safetensors header must be a JSON object of tensors. Hint: the "
                         "file is not a safetensors file.", path);
    }
    size_t cap = json_object_size(root);
    h->t = pcalloc(sizeof(StTensor) * (cap ? cap : 1), "safetensors header", err);
    if (!h->t) {
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            // the format's only free-form entry: a map of strings to strings
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                rc = perr(err, "%s: \"__metadata__\" must be an object of strings (e.g. "
                               "{\"format\": \"pt\"}), found a %s. Hint: the header is damaged "
                               "or was not written by a safetensors library.", path,
                          json_typename(v));
                break;
            }
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = perr(err, "%s: \"__metadata__\".\"%.80s\" must be a string, found a %s. "
                                   "Hint: safetensors metadata maps strings to strings.", path,
                              mk, json_typename(mv));
                    break;
                }
            }
            if (rc) break;
            continue;
        }
        StTensor *t = &h->t[h->n];
        if (strlen(key) >= ST_MAX_NAME) {
            rc = perr(err, "%s: tensor name '%.60s...' is longer than %d bytes.", path, key,
                      ST_MAX_NAME - 1);
            break;
        }
        snprintf(t->name, sizeof t->name, "%s", key);
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
               *off = json_object_get(v, "data_offsets");
        if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(sh) ||
            !json_is_array(off)) {
            rc = perr(err, "%s: tensor '%s': expected an object with \"dtype\" (string), "
                           "\"shape\" (array) and \"data_offsets\" (array). Hint: the header is "
                           "damaged.", path, key);
            break;
        }
        const char *d = json_string_value(dt);
        t->dsize = dtype_size(d);
        if (!t->dsize || strlen(d) >= sizeof t->dtype) {
            rc = perr(err, "%s: tensor '%s': unknown dtype \"%.20s\". Hint: safetensors dtypes are "
                           "F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL.", path, key, d);
            break;
        }
        snprintf(t->dtype, sizeof t->dtype, "%s", d);
        size_t nd = json_array_size(sh);
        if (nd > ST_MAX_DIMS) {
            rc = perr(err, "%s: tensor '%s': %zu dimensions, at most %d supported.", path, key, nd,
                      ST_MAX_DIMS);
            break;
        }
        t->ndim = (int)nd;
        size_t count = 1;
        int bad = 0;
        for (size_t i = 0; i < nd; i++) {
            json_t *e = json_array_get(sh, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > (json_int_t)1 << 40) {
                bad = 1;
                break;
            }
            t->shape[i] = json_integer_value(e);
            if (t->shape[i] && count > ((size_t)1 << 50) / (size_t)t->shape[i]) {
                bad = 1;
                break;
            }
            count *= (size_t)t->shape[i];
        }
        if (bad) {
            rc = perr(err, "%s: tensor '%s': \"shape\" must list non-negative integers. Hint: the "
                           "header is damaged.", path, key);
            break;
        }
        json_t *b0 = json_array_get(off, 0), *b1 = json_array_get(off, 1);
        if (json_array_size(off) != 2 || !json_is_integer(b0) || !json_is_integer(b1) ||
            json_integer_value(b0) < 0 || json_integer_value(b1) < json_integer_value(b0)) {
            rc = perr(err, "%s: tensor '%s': \"data_offsets\" must be [begin, end] with 0 <= "
                           "begin <= end. Hint: the header is damaged.", path, key);
            break;
        }
        t->begin = (size_t)json_integer_value(b0);
        t->end = (size_t)json_integer_value(b1);
        if (t->end > data_len) {
            rc = perr(err, "%s: tensor '%s': data_offsets [%zu, %zu] end past the data buffer "
                           "(%zu bytes). Hint: the file is truncated.", path, key, t->begin,
                      t->end, data_len);
            break;
        }
        if (t->end - t->begin != count * (size_t)t->dsize) {
            rc = perr(err, "%s: tensor '%s': data_offsets span %zu bytes, but shape and dtype %s "
                           "need %zu. Hint: the header is damaged.", path, key, t->end - t->begin,
                      t->dtype, count * (size_t)t->dsize);
            break;
        }
        h->n++;
    }
    json_decref(root);
    if (!rc) rc = check_overlaps(h, path, err);
    if (rc) st_header_free(h);
    return rc;
}

static int get_int_field(json_t *root, const char *name, const char *path, int *out, int required,
                         PruneErr *err) {
    json_t *v = json_object_get(root, name);
    if (!v) {
        if (required)
            return perr(err, "%s: field \"%s\" is missing. Hint: a GPT-2 config.json has n_embd, "
                             "n_layer, n_head, n_positions and vocab_size; a Llama one hidden_size, "
                             "num_hidden_layers, num_attention_heads, intermediate_size, "
                             "max_position_embeddings and vocab_size.", path, name);
        return 1;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 30))
        return perr(err, "%s: field \"%s\": expected a positive integer. Hint: check the "
                         "config.json that came with the model.", path, name);
    *out = (int)json_integer_value(v);
    return 0;
}

// A number field: 1 absent (default kept), 0 read, -1 error.
static int get_num_field(json_t *root, const char *name, const char *path, double *out, PruneErr *err) {
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return perr(err, "%s: field \"%s\": expected a number.", path, name);
    *out = json_number_value(v);
    return 0;
}

// A boolean field: 1 absent, 0 read, -1 error.
static int get_bool_field(json_t *root, const char *name, const char *path, int *out, PruneErr *err) {
    json_t *v = json_object_get(root, name);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_boolean(v)) return perr(err, "%s: field \"%s\": expected true or false.", path, name);
    *out = json_is_true(v);
    return 0;
}

// The Llama family's config.json (transformers' LlamaConfig, Qwen2Config, MistralConfig):
// family is "llama", "qwen2" or "mistral". Defaults are those classes' defaults.
static int hf_parse_llama_config(json_t *root, const char *family, const char *path, GPT2Config *c,
                                 PruneErr *err) {
    memset(c, 0, sizeof *c);
    if (get_int_field(root, "hidden_size", path, &c->C, 1, err) ||
        get_int_field(root, "num_hidden_layers", path, &c->L, 1, err) ||
        get_int_field(root, "num_attention_heads", path, &c->NH, 1, err) ||
        get_int_field(root, "intermediate_size", path, &c->H, 1, err) ||
        get_int_field(root, "vocab_size", path, &c->V, 1, err))
        return -1;
    c->maxT = 2048;  // LlamaConfig's default; Mistral's is 4096 * 32, Qwen2's 32768
    if (!strcmp(family, "mistral")) c->maxT = 4096 * 32;
    if (!strcmp(family, "qwen2")) c->maxT = 32768;
    if (get_int_field(root, "max_position_embeddings", path, &c->maxT, 0, err) < 0) return -1;
    c->NKV = c->NH;
    json_t *kv = json_object_get(root, "num_key_value_heads");
    if (kv && !json_is_null(kv) && get_int_field(root, "num_key_value_heads", path, &c->NKV, 1, err)) return -1;
    json_t *hd = json_object_get(root, "head_dim");
    if (hd && !json_is_null(hd)) {
        if (get_int_field(root, "head_dim", path, &c->hs, 1, err)) return -1;
    } else {
        if (c->C % c->NH)
            return perr(err, "%s: hidden_size %d is not a multiple of num_attention_heads %d and "
                             "there is no head_dim. Hint: the config is damaged.", path, c->C, c->NH);
        c->hs = c->C / c->NH;
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu")))
        return perr(err, "%s: field \"hidden_act\": expected \"silu\" (SwiGLU), found %s. Hint: prune "
                         "computes Llama-family MLPs as down(silu(gate) * up).", path,
                    json_is_string(act) ? json_string_value(act) : "a non-string");
    double eps = 1e-6, theta = 10000.0;
    if (get_num_field(root, "rms_norm_eps", path, &eps, err) < 0) return -1;
    if (get_num_field(root, "rope_theta", path, &theta, err) < 0) return -1;
    c->norm_eps = (float)eps, c->rope_theta = (float)theta;
    int tie = 0, ab = 0, mb = 0, usw = 0;
    if (get_bool_field(root, "tie_word_embeddings", path, &tie, err) < 0 ||
        get_bool_field(root, "attention_bias", path, &ab, err) < 0 ||
        get_bool_field(root, "mlp_bias", path, &mb, err) < 0 ||
        get_bool_field(root, "use_sliding_window", path, &usw, err) < 0)
        return -1;
    if (mb) return perr(err, "%s: field \"mlp_bias\" is true: MLP biases are not read for Llama-family "
                             "models. Hint: prune reads Llama, Qwen2 and Mistral as published.", path);
    if (ab && strcmp(family, "qwen2"))
        return perr(err, "%s: field \"attention_bias\" is true: a Llama with biases on q, k, v and o is "
                         "not read (Qwen2's q/k/v-only biases are). Hint: prune reads Llama, Qwen2 "
                         "and Mistral as published.", path);
    c->norm = NORM_RMSNORM, c->pos = POS_ROPE_HALVES, c->mlp = MLP_SWIGLU;
    c->bias = !strcmp(family, "qwen2") ? BIAS_QKV : BIAS_NONE;
    c->unembed = tie ? UNEMBED_TIED : UNEMBED_UNTIED;
    c->Vp = c->V;
    // Mistral attends within sliding_window; Qwen2 only with use_sliding_window
    json_t *sw = json_object_get(root, "sliding_window");
    if (sw && !json_is_null(sw) && (!strcmp(family, "mistral") || usw)) {
        if (get_int_field(root, "sliding_window", path, &c->sliding_window, 1, err)) return -1;
    }
    json_t *rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        json_t *ty = json_object_get(rs, "rope_type");
        if (!ty) ty = json_object_get(rs, "type");
        if (!json_is_object(rs) || !json_is_string(ty))
            return perr(err, "%s: field \"rope_scaling\": expected null or an object with \"rope_type\".",
                        path);
        const char *t = json_string_value(ty);
        if (!strcmp(t, "default")) {
            // no scaling
        } else if (!strcmp(t, "llama3")) {
            double f = 0, lo = 0, hi = 0;
            int orig = 0;
            if (get_num_field(rs, "factor", path, &f, err) ||
                get_num_field(rs, "low_freq_factor", path, &lo, err) ||
                get_num_field(rs, "high_freq_factor", path, &hi, err) ||
                get_int_field(rs, "original_max_position_embeddings", path, &orig, 1, err))
                return perr(err, "%s: rope_scaling \"llama3\" needs the numbers factor, low_freq_factor, "
                                 "high_freq_factor and original_max_position_embeddings. Hint: the "
                                 "config is damaged.", path);
            c->rope_scaling = ROPE_SCALING_LLAMA3;
            c->rope_factor = (float)f, c->rope_low_freq_factor = (float)lo;
            c->rope_high_freq_factor = (float)hi, c->rope_orig_maxT = orig;
        } else {
            return perr(err, "%s: rope_scaling type \"%s\" is not supported: prune computes RoPE "
                             "without scaling or with Llama 3.1's \"llama3\" scaling only. Hint: "
                             "linear, dynamic, yarn and longrope scalings change the angles; remove "
                             "rope_scaling only if prompts stay within the original context.", path, t);
        }
    }
    gpt2_config_defaults(c);
    return gpt2_config_check(c, path, err);
}

// The family a config.json names by "architectures" or "model_type": "gpt2", "llama",
// "qwen2", "mistral", or NULL (then *what is the name found).
static const char *hf_family(json_t *root, const char **what) {
    static const struct { const char *arch, *type, *family; } F[] = {
        {"GPT2LMHeadModel", "gpt2", "gpt2"},     {"GPT2Model", "gpt2", "gpt2"},
        {"LlamaForCausalLM", "llama", "llama"},  {"Qwen2ForCausalLM", "qwen2", "qwen2"},
        {"MistralForCausalLM", "mistral", "mistral"},
    };
    *what = NULL;
    json_t *ar = json_object_get(root, "architectures");
    if (json_is_array(ar) && json_array_size(ar) > 0 && json_is_string(json_array_get(ar, 0))) {
        const char *a = json_string_value(json_array_get(ar, 0));
        for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
            if (!strcmp(a, F[i].arch)) return F[i].family;
        *what = a;
        return NULL;
    }
    json_t *mt = json_object_get(root, "model_type");
    if (!mt) return "gpt2";  // the oldest GPT-2 configs name neither
    if (json_is_string(mt))
        for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
            if (!strcmp(json_string_value(mt), F[i].type)) return F[i].family;
    *what = json_is_string(mt) ? json_string_value(mt) : "a non-string model_type";
    return NULL;
}

int hf_parse_config(const char *json, size_t n, const char *path, GPT2Config *c, PruneErr *err) {
    json_error_t je;
    json_t *root = json_loadb(json, n, 0, &je);
    if (!root) return json_error(err, path, "config.json", &je);
    int rc = -1;
    if (!json_is_object(root)) {
        perr(err, "%s: expected a JSON object of model settings.", path);
        goto done;
    }
    const char *what, *family = hf_family(root, &what);
    if (!family) {
        perr(err, "%s: architecture \"%s\" is not supported. Hint: prune reads GPT2LMHeadModel, "
                  "LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM (model_type gpt2, "
                  "llama, qwen2, mistral).", path, what);
        goto done;
    }
    if (strcmp(family, "gpt2")) {
        rc = hf_parse_llama_config(root, family, path, c, err);
        goto done;
    }
    memset(c, 0, sizeof *c);
    if (get_int_field(root, "n_embd", path, &c->C, 1, err) ||
        get_int_field(root, "n_layer", path, &c->L, 1, err) ||
        get_int_field(root, "n_head", path, &c->NH, 1, err) ||
        get_int_field(root, "vocab_size", path, &c->V, 1, err))
        goto done;
    int r = get_int_field(root, "n_positions", path, &c->maxT, 0, err);
    if (r < 0) goto done;
    if (r == 1 && get_int_field(root, "n_ctx", path, &c->maxT, 1, err)) goto done;
    json_t *ni = json_object_get(root, "n_inner");
    if (ni && !json_is_null(ni)) {  // the MLP width; null means 4 n_embd
        if (!json_is_integer(ni) || json_integer_value(ni) < 1 || json_integer_value(ni) > 1048576) {
            perr(err, "%s: field \"n_inner\": expected null or a positive integer (the MLP width). "
                      "Hint: GPT-2 configs have null (4*n_embd).", path);
            goto done;
        }
        c->H = (int)json_integer_value(ni);
    }
    json_t *act = json_object_get(root, "activation_function");
    if (act && (!json_is_string(act) || (strcmp(json_string_value(act), "gelu_new") &&
                                         strcmp(json_string_value(act), "gelu_fast") &&
                                         strcmp(json_string_value(act), "gelu_pytorch_tanh")))) {
        perr(err, "%s: field \"activation_function\": expected \"gelu_new\", \"gelu_fast\" or "
                  "\"gelu_pytorch_tanh\" (the tanh GELU), found %s. Hint: prune computes the tanh "
                  "approximation only.", path,
             json_is_string(act) ? json_string_value(act) : "a non-string");
        goto done;
    }
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    if (eps && (!json_is_number(eps) || fabs(json_number_value(eps) - 1e-5) > 1e-9)) {
        perr(err, "%s: field \"layer_norm_epsilon\": expected 1e-05 (GPT-2's), found %g. Hint: "
                  "prune's LayerNorm uses eps 1e-5.", path,
             json_is_number(eps) ? json_number_value(eps) : NAN);
        goto done;
    }
    json_t *sc = json_object_get(root, "scale_attn_weights");
    json_t *inv = json_object_get(root, "scale_attn_by_inverse_layer_idx");
    if ((sc && json_is_false(sc)) || (inv && json_is_true(inv))) {
        perr(err, "%s: attention scaling other than 1/sqrt(head size) (scale_attn_weights=false "
                  "or scale_attn_by_inverse_layer_idx=true) is not supported.", path);
        goto done;
    }
    int tie = 1;  // GPT-2's default
    if (get_bool_field(root, "tie_word_embeddings", path, &tie, err) < 0) goto done;
    c->unembed = tie ? UNEMBED_TIED : UNEMBED_UNTIED;
    c->Vp = (c->V + 127) / 128 * 128;
    gpt2_config_defaults(c);
    rc = gpt2_config_check(c, path, err);
done:
    json_decref(root);
    return rc;
}

// --- from tensors to the model -----------------------------------------------------

enum { SRC_MAT_T = 1 };  // stored (in, out): transpose into (out, in)

typedef struct {
    const char *suffix;
    int tensor;     // ParamId, or -1 to skip (mask buffers); the shape is the table's
    int transpose;  // stored (in, out): Conv1D's layout
} LayerName;

// h.{l}.<suffix>: shapes in units of C as Hugging Face stores them.
static const LayerName LAYER_NAMES[] = {
    {"ln_1.weight", P_LN1W, 0},        {"ln_1.bias", P_LN1B, 0},
    {"attn.c_attn.weight", P_QKVW, 1}, {"attn.c_attn.bias", P_QKVB, 0},
    {"attn.c_proj.weight", P_ATTPROJW, 1}, {"attn.c_proj.bias", P_ATTPROJB, 0},
    {"ln_2.weight", P_LN2W, 0},        {"ln_2.bias", P_LN2B, 0},
    {"mlp.c_fc.weight", P_FCW, 1},     {"mlp.c_fc.bias", P_FCB, 0},
    {"mlp.c_proj.weight", P_FCPROJW, 1}, {"mlp.c_proj.bias", P_FCPROJB, 0},
    {"attn.bias", -1, 0},              {"attn.masked_bias", -1, 0},
};
#define N_LAYER_NAMES 12  // the first 12 entries are weights; the rest are skipped buffers

// model.layers.{l}.<suffix> of the Llama family: (out, in) as stored; rows says which rows
// of the fused prune tensor the Hugging Face tensor fills.
enum { R_ALL, R_Q, R_K, R_V, R_GATE, R_UP };
static const LayerName LLAMA_NAMES[] = {
    {"input_layernorm.weight", P_LN1W, R_ALL},         {"self_attn.q_proj.weight", P_QKVW, R_Q},
    {"self_attn.k_proj.weight", P_QKVW, R_K},          {"self_attn.v_proj.weight", P_QKVW, R_V},
    {"self_attn.o_proj.weight", P_ATTPROJW, R_ALL},    {"post_attention_layernorm.weight", P_LN2W, R_ALL},
    {"mlp.gate_proj.weight", P_FCW, R_GATE},           {"mlp.up_proj.weight", P_FCW, R_UP},
    {"mlp.down_proj.weight", P_FCPROJW, R_ALL},        {"self_attn.q_proj.bias", P_QKVB, R_Q},
    {"self_attn.k_proj.bias", P_QKVB, R_K},            {"self_attn.v_proj.bias", P_QKVB, R_V},
    {"self_attn.rotary_emb.inv_freq", -1, 0},  // a buffer older checkpoints saved: not a weight
};
#define N_LLAMA_WEIGHTS 9  // then the 3 Qwen2 biases (slots 9-11), then skipped buffers
#define N_GLOBALS 5        // slots: wte, wpe, final norm weight, final norm bias, lm_head

// The layer index at s in canonical decimal ("0", "17"; not "+0", "00", " 0", "0x1"),
// followed by '.': returns the position of the '.', or NULL. strtol would accept all of
// those, so h.00 and h.+0 would both be read as layer 0.
static const char *layer_index(const char *s, long *l) {
    size_t k = 0;
    *l = 0;
    while (s[k] >= '0' && s[k] <= '9') {
        if (k == 9) return NULL;  // more layers than any config allows
        *l = *l * 10 + (s[k] - '0');
        k++;
    }
    if (k == 0 || s[k] != '.' || (s[0] == '0' && k > 1)) return NULL;
    return s + k;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float load_elem(const uint8_t *p, size_t i, const char *dtype) {
    if (dtype[0] == 'F' && dtype[1] == '3') {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    if (dtype[0] == 'B') {
        uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return half_to_float(h);
}

typedef struct {
    GPT2 *m;
    unsigned char *seen;  // N_GLOBALS globals + 12 per layer (N_LAYER_NAMES or the Llama names)
    float *lm_head;       // a tied lm_head.weight, if the file has one, checked at the end
    unsigned dtypes;      // bit 0 F32, 1 F16, 2 BF16
} HfLoad;

static int shape_is(const StTensor *t, int64_t a, int64_t b) {
    if (b == 0) return t->ndim == 1 && t->shape[0] == a;
    return t->ndim == 2 && t->shape[0] == a && t->shape[1] == b;
}

static int shape_error(PruneErr *err, const char *path, const StTensor *t, int64_t a, int64_t b) {
    char got[128] = "[";
    for (int i = 0; i < t->ndim; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strncat(got, tmp, sizeof got - strlen(got) - 2);
    }
    strcat(got, "]");
    if (b)
        return perr(err, "%s: tensor '%s': shape %s, expected [%lld, %lld] from config.json. Hint: "
                         "config.json does not belong to these weights.", path, t->name, got,
                    (long long)a, (long long)b);
    return perr(err, "%s: tensor '%s': shape %s, expected [%lld] from config.json. Hint: "
                     "config.json does not belong to these weights.", path, t->name, got,
                (long long)a);
}

// The first stored element of t that is NaN or infinite (exponent bits all ones in F32,
// BF16 and F16 alike), named by its index in the stored shape; 0 when all are finite.
static int check_finite(const StTensor *t, const uint8_t *src, const char *path, PruneErr *err) {
    size_t count = (t->end - t->begin) / (size_t)t->dsize;
    int f32 = t->dtype[0] == 'F' && t->dtype[1] == '3', bf16 = t->dtype[0] == 'B';
    for (size_t i = 0; i < count; i++) {
        int bad;
        if (f32) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            bad = (u & 0x7f800000u) == 0x7f800000u;
        } else {
            uint16_t u;
            memcpy(&u, src + 2 * i, 2);
            bad = bf16 ? (u & 0x7f80u) == 0x7f80u : (u & 0x7c00u) == 0x7c00u;
        }
        if (!bad) continue;
        char at[160] = "[";
        size_t rest = i;  // row-major: the last index runs fastest
        size_t idx[ST_MAX_DIMS] = {0};
        for (int d = t->ndim - 1; d >= 0; d--) {
            size_t dim = t->shape[d] ? (size_t)t->shape[d] : 1;
            idx[d] = rest % dim;
            rest /= dim;
        }
        for (int d = 0; d < t->ndim; d++) {
            char n[32];
            snprintf(n, sizeof n, "%s%zu", d ? ", " : "", idx[d]);
            strncat(at, n, sizeof at - strlen(at) - 2);
        }
        strcat(at, "]");
        float v = load_elem(src, i, t->dtype);
        return perr(err, "%s: tensor '%s' (%s): entry %s is %s. Hint: the weights are damaged "
                         "(a diverged training run, or a value too large for %s when the model "
                         "was converted); prune needs finite weights.", path, t->name, t->dtype,
                    at, isnan(v) ? "NaN" : "infinite", t->dtype);
    }
    return 0;
}

// Copies count stored elements of t into dst (fp32).
static void copy_elems(float *dst, const uint8_t *src, size_t count, const char *dtype) {
    for (size_t i = 0; i < count; i++) dst[i] = load_elem(src, i, dtype);
}

static int mark_seen(HfLoad *hl, int slot, const StTensor *t, const char *path, PruneErr *err) {
    if (hl->seen[slot])
        return perr(err, "%s: tensor '%s' appears twice (also in another shard?).", path, t->name);
    hl->seen[slot] = 1;
    hl->dtypes |= t->dtype[0] == 'B' ? 4 : (t->dtype[1] == '3' ? 1 : 2);
    return 0;
}

// One tensor of a Llama-family checkpoint (LLAMA_NAMES) into its rows of prune's tensors.
static int apply_llama_tensor(HfLoad *hl, const StTensor *t, const uint8_t *src, const char *path,
                              PruneErr *err) {
    GPT2 *m = hl->m;
    const GPT2Config *c = &m->config;
    const char *name = t->name;
    size_t C = c->C, V = c->V;
    if (!strcmp(name, "model.embed_tokens.weight") || !strcmp(name, "lm_head.weight")) {
        if (!shape_is(t, c->V, c->C)) return shape_error(err, path, t, c->V, c->C);
        if (check_finite(t, src, path, err)) return -1;
        float *dst;
        int slot;
        if (name[0] == 'm') {
            dst = m->params.wte, slot = 0;
        } else if (c->unembed == UNEMBED_UNTIED) {
            dst = m->params.lm_head, slot = 4;
        } else {  // tied, yet saved: compared with the embedding at the end
            if (!hl->lm_head) hl->lm_head = palloc(V * C * 4, "lm_head.weight (to compare with embed_tokens)", err);
            if (!hl->lm_head) return -1;
            copy_elems(hl->lm_head, src, V * C, t->dtype);
            return 0;
        }
        if (mark_seen(hl, slot, t, path, err)) return -1;
        copy_elems(dst, src, V * C, t->dtype);
        return 0;
    }
    if (!strcmp(name, "model.norm.weight")) {
        if (!shape_is(t, c->C, 0)) return shape_error(err, path, t, c->C, 0);
        if (check_finite(t, src, path, err) || mark_seen(hl, 2, t, path, err)) return -1;
        copy_elems(m->params.lnfw, src, C, t->dtype);
        return 0;
    }
    if (strncmp(name, "model.layers.", 13))
        return perr(err, "%s: unknown tensor '%s'. Hint: prune reads LlamaForCausalLM, "
                         "Qwen2ForCausalLM and MistralForCausalLM checkpoints (model.embed_tokens, "
                         "model.layers.N..., model.norm, lm_head).", path, t->name);
    long l = 0;
    const char *end = layer_index(name + 13, &l);
    if (!end)
        return perr(err, "%s: tensor '%s': the layer index must be a plain decimal number followed by "
                         "'.'. Hint: names look like model.layers.0.self_attn.q_proj.weight.", path, t->name);
    if (l >= c->L)
        return perr(err, "%s: tensor '%s': layer %ld, but config.json has num_hidden_layers = %d. Hint: "
                         "config.json does not belong to these weights.", path, t->name, l, c->L);
    int k = -1;
    for (size_t i = 0; i < sizeof LLAMA_NAMES / sizeof LLAMA_NAMES[0]; i++)
        if (!strcmp(end + 1, LLAMA_NAMES[i].suffix)) k = (int)i;
    if (k < 0 || (k >= N_LLAMA_WEIGHTS && LLAMA_NAMES[k].tensor >= 0 && c->bias != BIAS_QKV))
        return perr(err, "%s: unknown tensor '%s'%s. Hint: prune reads Llama, Qwen2 (q/k/v biases) and "
                         "Mistral layers.", path, t->name,
                    k >= 0 ? " (a q/k/v bias, but the config is not Qwen2's)" : "");
    const LayerName *ln = &LLAMA_NAMES[k];
    if (ln->tensor < 0) return 0;
    ParamSpec spec[NUM_PARAM_TENSORS];
    gpt2_param_table(spec, c);
    const ParamSpec *ps = &spec[ln->tensor];
    size_t A = cfg_attn_width(c), kv = (size_t)c->NKV * c->hs, H = c->H, row0 = 0, rows = ps->rows;
    switch (ln->transpose) {  // the rows this tensor fills
    case R_Q: row0 = 0, rows = A; break;
    case R_K: row0 = A, rows = kv; break;
    case R_V: row0 = A + kv, rows = kv; break;
    case R_GATE: row0 = 0, rows = H; break;
    case R_UP: row0 = H, rows = H; break;
    default: break;
    }
    size_t cols = ps->cols ? ps->cols : 1;
    if (!shape_is(t, (int64_t)rows, (int64_t)ps->cols)) return shape_error(err, path, t, (int64_t)rows, (int64_t)ps->cols);
    if (check_finite(t, src, path, err) || mark_seen(hl, N_GLOBALS + (int)l * N_LAYER_NAMES + k, t, path, err))
        return -1;
    float *base = *param_field(&m->params, (ParamId)ln->tensor);
    copy_elems(base + (size_t)l * param_layer_floats(ps) + row0 * cols, src, rows * cols, t->dtype);
    return 0;
}

static int apply_tensor(HfLoad *hl, const StTensor *t, const uint8_t *data, const char *path,
                        PruneErr *err) {
    GPT2 *m = hl->m;
    const GPT2Config *c = &m->config;
    const char *name = t->name;
    if (!strncmp(name, "transformer.", 12)) name += 12;
    if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F16") && strcmp(t->dtype, "BF16"))
        return perr(err, "%s: tensor '%s': dtype %s is not supported for weights. Hint: save the "
                         "model in float32, float16 or bfloat16.", path, t->name, t->dtype);
    const uint8_t *src = data + t->begin;
    float *params[NUM_PARAM_TENSORS];
    memcpy(params, &m->params, sizeof params);
    size_t C = c->C;
    int slot;
    float *dst;
    if (cfg_is_llama(c)) return apply_llama_tensor(hl, t, src, path, err);
    if (!strcmp(name, "lm_head.weight") && c->unembed == UNEMBED_UNTIED) {
        if (!shape_is(t, c->V, c->C)) return shape_error(err, path, t, c->V, c->C);
        dst = m->params.lm_head;
        slot = 4;
    } else if (!strcmp(name, "wte.weight") || !strcmp(name, "lm_head.weight")) {
        if (!shape_is(t, c->V, c->C)) return shape_error(err, path, t, c->V, c->C);
        if (name[0] == 'l') {
            if (!hl->lm_head) hl->lm_head = palloc((size_t)c->V * C * 4, "lm_head.weight (to compare with wte)", err);
            if (!hl->lm_head) return -1;
            dst = hl->lm_head;
            slot = -1;
        } else {
            dst = m->params.wte;
            slot = 0;
        }
    } else if (!strcmp(name, "wpe.weight")) {
        if (!shape_is(t, c->maxT, c->C)) return shape_error(err, path, t, c->maxT, c->C);
        dst = m->params.wpe;
        slot = 1;
    } else if (!strcmp(name, "ln_f.weight") || !strcmp(name, "ln_f.bias")) {
        if (!shape_is(t, c->C, 0)) return shape_error(err, path, t, c->C, 0);
        int w = !strcmp(name, "ln_f.weight");
        dst = w ? m->params.lnfw : m->params.lnfb;
        slot = w ? 2 : 3;
    } else if (!strncmp(name, "h.", 2)) {
        long l = 0;
        const char *end = layer_index(name + 2, &l);
        if (!end)
            return perr(err, "%s: tensor '%s': the layer index must be a plain decimal number "
                             "(0, 1, ... 47; no sign, space or leading zero) followed by '.'. Hint: "
                             "GPT-2 names look like h.0.attn.c_attn.weight.", path, t->name);
        if (l >= c->L)
            return perr(err, "%s: tensor '%s': layer %ld, but config.json has n_layer = %d. Hint: "
                             "config.json does not belong to these weights.", path, t->name, l,
                        c->L);
        const char *suffix = end + 1;
        int k = -1;
        for (size_t i = 0; i < sizeof LAYER_NAMES / sizeof LAYER_NAMES[0]; i++)
            if (!strcmp(suffix, LAYER_NAMES[i].suffix)) k = (int)i;
        if (k < 0)
            return perr(err, "%s: unknown tensor '%s'. Hint: prune reads GPT-2 models "
                             "(GPT2Model / GPT2LMHeadModel) only.", path, t->name);
        const LayerName *ln = &LAYER_NAMES[k];
        if (ln->tensor < 0) return 0;  // causal-mask buffers: not weights
        if (check_finite(t, src, path, err)) return -1;
        // the shape from the parameter table; Hugging Face stores the matrices (in, out)
        ParamSpec spec[NUM_PARAM_TENSORS];
        gpt2_param_table(spec, c);
        const ParamSpec *ps = &spec[ln->tensor];
        int64_t a = (int64_t)(ln->transpose ? ps->cols : ps->rows), b = (int64_t)(ln->transpose ? ps->rows : 0);
        if (!shape_is(t, a, b)) return shape_error(err, path, t, a, b);
        size_t per_layer = param_layer_floats(ps);
        dst = params[ln->tensor] + (size_t)l * per_layer;
        slot = N_GLOBALS + (int)l * N_LAYER_NAMES + k;
        if (hl->seen[slot])
            return perr(err, "%s: tensor '%s' appears twice (also in another shard?).", path,
                        t->name);
        hl->seen[slot] = 1;
        hl->dtypes |= t->dtype[0] == 'B' ? 4 : (t->dtype[1] == '3' ? 1 : 2);
        if (ln->transpose) {
            size_t in = (size_t)a, out = (size_t)b;
            for (size_t i = 0; i < in; i++)
                for (size_t o = 0; o < out; o++) dst[o * in + i] = load_elem(src, i * out + o, t->dtype);
        } else {
            for (size_t i = 0; i < (size_t)a; i++) dst[i] = load_elem(src, i, t->dtype);
        }
        return 0;
    } else {
        return perr(err, "%s: unknown tensor '%s'. Hint: prune reads GPT-2 models (GPT2Model / "
                         "GPT2LMHeadModel) only.", path, t->name);
    }
    if (check_finite(t, src, path, err)) return -1;
    if (slot >= 0) {
        if (hl->seen[slot])
            return perr(err, "%s: tensor '%s' appears twice (also in another shard?).", path,
                        t->name);
        hl->seen[slot] = 1;
    }
    hl->dtypes |= t->dtype[0] == 'B' ? 4 : (t->dtype[1] == '3' ? 1 : 2);
    size_t count = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
    for (size_t i = 0; i < count; i++) dst[i] = load_elem(src, i, t->dtype);
    return 0;
}

typedef struct {
    HfLoad *hl;
    const uint8_t *map;
    size_t len;
    const char *path;
    StHeader h;
} StRead;

// Checks the framing and header of a mapped file and copies its tensors in (under
// map_guarded_call: a file cut short meanwhile is an error, not a SIGBUS).
static int st_read(void *ctx, PruneErr *err) {
    StRead *r = ctx;
    const char *path = r->path;
    uint64_t n;
    if (r->len < 8)
        return perr(err, "%s: file is truncated: %zu bytes, a safetensors file starts with an "
                         "8-byte header length.", path, r->len);
    memcpy(&n, r->map, 8);
    if (n > ST_MAX_HEADER || n > r->len - 8)
        return perr(err, "%s: header length field (bytes 0-7) is %llu, but the file has %zu bytes "
                         "after it. Hint: not a safetensors file, or truncated.", path,
                    (unsigned long long)n, r->len - 8);
    if (st_parse_header((const char *)r->map + 8, (size_t)n, r->len - 8 - (size_t)n, path, &r->h,
                        err))
        return -1;
    const uint8_t *data = r->map + 8 + n;
    for (int i = 0; i < r->h.n; i++)
        if (apply_tensor(r->hl, &r->h.t[i], data, path, err)) return -1;
    return 0;
}

// Maps one .safetensors file and reads it into the model.
static int load_st_file(HfLoad *hl, const char *path, PruneErr *err) {
    void *map;
    size_t len;
    if (map_file(path, 0, &map, &len, err)) return -1;
    StRead r = {hl, map, len, path, {0}};
    int rc = map_guarded_call(st_read, &r, path, err);
    st_header_free(&r.h);
    unmap_file(map, len);
    return rc;
}

// Loads every shard named in a model.safetensors.index.json weight_map.
static int load_sharded(HfLoad *hl, const char *index_path, const char *dir, PruneErr *err) {
    char *text;
    size_t len;
    if (read_file(index_path, &text, &len, err)) return -1;
    json_error_t je;
    size_t bom = utf8_bom_len(text, len);
    json_t *root = json_loadb(text + bom, len - bom, 0, &je);
    free(text);
    if (!root) return json_error(err, index_path, "the shard index", &je);
    int rc = -1;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        perr(err, "%s: expected a non-empty object \"weight_map\" (tensor name -> shard file).",
             index_path);
        goto done;
    }
    // Each distinct shard file, once, in the order first named.
    const char *key;
    json_t *v;
    size_t nshards = 0;
    const char **shards = pcalloc(sizeof(char *) * json_object_size(wm), "shard list", err);
    if (!shards) goto done;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v) || strchr(json_string_value(v), '/')) {
            perr(err, "%s: weight_map[\"%s\"]: expected a shard file name in the same folder.",
                 index_path, key);
            free(shards);
            goto done;
        }
        const char *f = json_string_value(v);
        size_t i = 0;
        while (i < nshards && strcmp(shards[i], f)) i++;
        if (i == nshards) shards[nshards++] = f;
    }
    for (size_t i = 0; i < nshards; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, shards[i]);
        if (load_st_file(hl, p, err)) {
            free(shards);
            goto done;
        }
    }
    free(shards);
    rc = 0;
done:
    json_decref(root);
    return rc;
}

// The architecture config.json names (for prune info and messages): its first
// "architectures" entry, else its model_type, else "gpt2".
static void hf_arch_name(char *out, size_t cap, const char *json, size_t n) {
    json_t *root = json_loadb(json, n, 0, NULL);
    json_t *ar = root ? json_object_get(root, "architectures") : NULL, *mt = root ? json_object_get(root, "model_type") : NULL;
    const char *a = json_is_array(ar) && json_is_string(json_array_get(ar, 0)) ? json_string_value(json_array_get(ar, 0))
                    : json_is_string(mt) ? json_string_value(mt) : "gpt2";
    snprintf(out, cap, "%s", a);
    json_decref(root);
}

int gpt2_load_hf(GPT2 *m, const char *path, PruneErr *err) {
    memset(m, 0, sizeof *m);
    CHECK(((union { uint16_t u; uint8_t b[2]; }){.u = 1}).b[0] == 1);  // little-endian host
    char dir[4096], st[8192], idx[8192], cfg[8192];
    if (path_is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    st[0] = idx[0] = 0;
    if (path_is_dir(path)) {
        snprintf(st, sizeof st, "%s/model.safetensors", dir);
        snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
        if (!path_is_file(st)) st[0] = 0;
        if (!path_is_file(idx)) idx[0] = 0;
        if (!st[0] && !idx[0])
            return perr(err, "%s: folder has neither model.safetensors nor "
                             "model.safetensors.index.json. Hint: prune reads safetensors "
                             "weights; convert a pytorch_model.bin with save_pretrained(..., "
                             "safe_serialization=True).", path);
    } else if (str_ends_with(path, ".json")) {
        snprintf(idx, sizeof idx, "%s", path);
    } else {
        snprintf(st, sizeof st, "%s", path);
    }
    char *text;
    size_t len;
    if (read_file(cfg, &text, &len, NULL))
        return perr(err, "%s: cannot read config.json beside the weights. Hint: a Hugging Face "
                         "model folder holds config.json next to model.safetensors.", cfg);
    GPT2Config c;
    size_t bom = utf8_bom_len(text, len);  // a byte-order mark is not JSON
    int rc = hf_parse_config(text + bom, len - bom, cfg, &c, err);
    char arch[sizeof m->arch];
    if (!rc) hf_arch_name(arch, sizeof arch, text + bom, len - bom);
    free(text);
    if (rc) return -1;
    m->config = c;
    gpt2_param_sizes(m->param_sizes, &c);
    m->num_parameters = gpt2_num_parameters(&c);
    char what[9000];
    snprintf(what, sizeof what, "the fp32 weights of %s (%s: n_layer %d, n_embd %d, vocab_size %d)",
             path, cfg, c.L, c.C, c.V);
    m->owned = pcalloc(m->num_parameters * sizeof(float), what, err);
    if (!m->owned) return -1;
    m->params_memory = m->owned;
    gpt2_point_params(&m->params, m->params_memory, m->param_sizes);
    HfLoad hl = {m, NULL, NULL, 0};
    size_t nslots = N_GLOBALS + (size_t)c.L * N_LAYER_NAMES;
    hl.seen = pcalloc(nslots, "tensor bookkeeping", err);
    if (!hl.seen) goto fail;
    const char *src = idx[0] ? idx : st;
    if (idx[0] ? load_sharded(&hl, idx, dir, err) : load_st_file(&hl, st, err)) goto fail;
    // Every weight present, by name.
    int llama = cfg_is_llama(&c);
    static const char *globals[2][N_GLOBALS] = {
        {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"},
        {"model.embed_tokens.weight", NULL, "model.norm.weight", NULL, "lm_head.weight"}};
    for (size_t s = 0; s < nslots; s++) {
        if (hl.seen[s]) continue;
        if (s < N_GLOBALS) {
            if (!globals[llama][s] || (s == 4 && c.unembed == UNEMBED_TIED)) continue;
            perr(err, "%s: tensor '%s' is missing. Hint: the file is incomplete or not a %s "
                      "model%s.", src, globals[llama][s], llama ? "Llama-family" : "GPT-2",
                 s == 4 ? " (config.json says tie_word_embeddings is false)" : "");
            goto fail;
        }
        size_t k = (s - N_GLOBALS) % N_LAYER_NAMES, l = (s - N_GLOBALS) / N_LAYER_NAMES;
        if (llama && k >= N_LLAMA_WEIGHTS && c.bias != BIAS_QKV) continue;
        perr(err, "%s: tensor '%s%zu.%s' is missing. Hint: the file is incomplete or not a %s model.",
             src, llama ? "model.layers." : "h.", l, llama ? LLAMA_NAMES[k].suffix : LAYER_NAMES[k].suffix,
             llama ? "Llama-family" : "GPT-2");
        goto fail;
    }
    if (hl.lm_head &&
        memcmp(hl.lm_head, m->params.wte, sizeof(float) * (size_t)c.V * c.C) != 0) {
        perr(err, "%s: lm_head.weight differs from the token embedding, but config.json ties them "
                  "(tie_word_embeddings true or absent). Hint: set tie_word_embeddings to false in "
                  "config.json if the head is separate.", src);
        goto fail;
    }
    free(hl.seen);
    free(hl.lm_head);
    m->format = FORMAT_SAFETENSORS;
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    snprintf(m->source, sizeof m->source, "%s", path);
    snprintf(m->dtype, sizeof m->dtype, "%s",
             hl.dtypes == 1 ? "F32" : hl.dtypes == 2 ? "F16" : hl.dtypes == 4 ? "BF16" : "mixed");
    return 0;
fail:
    free(hl.seen);
    free(hl.lm_head);
    gpt2_free(m);
    return -1;
}

int gpt2_load(GPT2 *m, const char *path, int writable, PruneErr *err) {
    if (path_is_dir(path) || str_ends_with(path, ".safetensors") || str_ends_with(path, ".json"))
        return gpt2_load_hf(m, path, err);
    if (llama2c_sniff(path)) return gpt2_load_llama2c(m, path, err);
    return gpt2_load_llmc(m, path, writable, err);
}
