#!/usr/bin/env python3
"""Independent, slow, pure-Python (no numpy) Llama-family forward for Hugging Face folders.

It follows transformers' LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM code path
in float64: RMSNorm, q/k/v projections (Qwen2 with biases), RoPE by rotate_half on the
halves of each head with inv_freq = 1 / theta^(2i/hs) (and Llama 3.1's "llama3"
rope_scaling), grouped-query attention (K/V head h // (NH/NKV)), SwiGLU
down(silu(gate) * up), final RMSNorm, lm_head or the tied embedding. It shares no code
with prune.

It also writes the fixtures the C tests read (tests/test_llama.c), so the numbers can be
regenerated:

  python3 tests/ref/llama_ref.py make tests/data     # random HF models + ref_logprobs.tsv
  python3 tests/ref/llama_ref.py convert tests/data/stories260K/stories260K.bin \
          tests/data/stories260K_hf                  # llama2.c -> HF folder (q/k permuted)
  python3 tests/ref/llama_ref.py next FOLDER 1 403 407   # top-10 next-token log-probs

The conversion permutes each head's q and k rows as transformers'
convert_llama_weights_to_hf.py does (row 2i+s of a head goes to row s*hs/2 + i), so the
interleaved RoPE of llama2.c becomes rotate_half. `convert` checks its own output against
llama2.c's expect_next.tsv before writing anything else.
"""
import json, math, os, random, struct, sys

# --- safetensors -------------------------------------------------------------------


def f32_to_bf16_bits(x):  # round to nearest even, as torch does
    u = struct.unpack("<I", struct.pack("<f", x))[0]
    u += 0x7FFF + ((u >> 16) & 1)
    return (u >> 16) & 0xFFFF


def pack(dtype, vals):
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":
        return struct.pack("<%dH" % len(vals), *[f32_to_bf16_bits(v) for v in vals])
    raise ValueError(dtype)


def unpack(dtype, raw):
    if dtype == "F32":
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    if dtype == "F16":
        return list(struct.unpack("<%de" % (len(raw) // 2), raw))
    if dtype == "BF16":
        hs = struct.unpack("<%dH" % (len(raw) // 2), raw)
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in hs]
    raise ValueError(dtype)


def write_st(path, tensors):
    """tensors: list of (name, dtype, shape, flat values)"""
    hdr, blobs, off = {}, [], 0
    for name, dtype, shape, vals in tensors:
        b = pack(dtype, vals)
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_st(path, out):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        flat = unpack(v["dtype"], data[b:e])
        shape = v["shape"]
        if len(shape) == 2:
            flat = [flat[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
        out[k] = flat


def load(folder):
    cfg = json.load(open(folder + "/config.json"))
    t = {}
    idx = folder + "/model.safetensors.index.json"
    if os.path.exists(idx):
        for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
            read_st(folder + "/" + shard, t)
    else:
        read_st(folder + "/model.safetensors", t)
    return cfg, t


# --- the model ---------------------------------------------------------------------


def rmsnorm(x, w, eps):
    s = 1.0 / math.sqrt(sum(a * a for a in x) / len(x) + eps)
    return [a * s * wi for a, wi in zip(x, w)]


def linear(x, W, b=None):  # W stored (out, in), as nn.Linear
    y = [sum(wi * xi for wi, xi in zip(row, x)) for row in W]
    return [a + bb for a, bb in zip(y, b)] if b else y


def inv_freqs(cfg, hs):
    theta = cfg.get("rope_theta", 10000.0)
    inv = [1.0 / theta ** (2 * i / hs) for i in range(hs // 2)]
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        assert kind == "llama3", kind
        f, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        out = []
        for fr in inv:
            wl = 2 * math.pi / fr
            if wl < old / hi:
                out.append(fr)
            elif wl > old / lo:
                out.append(fr / f)
            else:
                sm = (old / wl - lo) / (hi - lo)
                out.append((1 - sm) * fr / f + sm * fr)
        inv = out
    return inv


def rope_half(x, pos, inv, nheads, hs):
    y = list(x)
    h2 = hs // 2
    for h in range(nheads):
        o = h * hs
        for i in range(h2):
            c, s = math.cos(pos * inv[i]), math.sin(pos * inv[i])
            a, b = x[o + i], x[o + i + h2]
            y[o + i] = a * c - b * s
            y[o + i + h2] = b * c + a * s
    return y


def forward(cfg, t, ids):
    """log-probabilities (len(ids) lists of V) at every position"""
    C, L, NH = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    NKV = cfg.get("num_key_value_heads") or NH
    hs = cfg.get("head_dim") or C // NH
    eps = cfg.get("rms_norm_eps", 1e-6)
    arch = (cfg.get("architectures") or [""])[0]
    bias = arch == "Qwen2ForCausalLM" or cfg.get("model_type") == "qwen2"
    inv = inv_freqs(cfg, hs)
    xs = [list(t["model.embed_tokens.weight"][i]) for i in ids]
    G = NH // NKV
    for l in range(L):
        p = "model.layers.%d." % l
        qs, ks, vs = [], [], []
        for pos, x in enumerate(xs):
            h = rmsnorm(x, t[p + "input_layernorm.weight"], eps)
            bq = t.get(p + "self_attn.q_proj.bias") if bias else None
            bk = t.get(p + "self_attn.k_proj.bias") if bias else None
            bv = t.get(p + "self_attn.v_proj.bias") if bias else None
            qs.append(rope_half(linear(h, t[p + "self_attn.q_proj.weight"], bq), pos, inv, NH, hs))
            ks.append(rope_half(linear(h, t[p + "self_attn.k_proj.weight"], bk), pos, inv, NKV, hs))
            vs.append(linear(h, t[p + "self_attn.v_proj.weight"], bv))
        new = []
        for i, x in enumerate(xs):
            y = []
            for h in range(NH):
                g = h // G
                q = qs[i][h * hs:(h + 1) * hs]
                sc = [sum(a * b for a, b in zip(q, ks[j][g * hs:(g + 1) * hs])) / math.sqrt(hs) for j in range(i + 1)]
                m = max(sc)
                e = [math.exp(s - m) for s in sc]
                z = sum(e)
                y += [sum(e[j] / z * vs[j][g * hs + d] for j in range(i + 1)) for d in range(hs)]
            o = linear(y, t[p + "self_attn.o_proj.weight"])
            x2 = [a + b for a, b in zip(x, o)]
            h2 = rmsnorm(x2, t[p + "post_attention_layernorm.weight"], eps)
            gt = linear(h2, t[p + "mlp.gate_proj.weight"])
            up = linear(h2, t[p + "mlp.up_proj.weight"])
            a = [gg / (1 + math.exp(-gg)) * uu for gg, uu in zip(gt, up)]
            d = linear(a, t[p + "mlp.down_proj.weight"])
            new.append([u + w for u, w in zip(x2, d)])
        xs = new
    head = t.get("lm_head.weight", t["model.embed_tokens.weight"])
    if cfg.get("tie_word_embeddings", False):
        head = t["model.embed_tokens.weight"]
    out = []
    for x in xs:
        lg = linear(rmsnorm(x, t["model.norm.weight"], eps), head)
        m = max(lg)
        lse = m + math.log(sum(math.exp(v - m) for v in lg))
        out.append([v - lse for v in lg])
    return out


# --- fixtures ----------------------------------------------------------------------

# (folder, config, dtype, shards, ids): random models covering GQA, q/k/v biases, an untied
# head, BF16/F16 weights, large rope_theta, llama3 scaling, an explicit head_dim (NH hs != C)
MODELS = [
    ("llama_gqa_bf16", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 24,
                        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                        "head_dim": 8, "intermediate_size": 40, "vocab_size": 37,
                        "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                        "tie_word_embeddings": False, "hidden_act": "silu",
                        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
     "BF16", 1, [1, 5, 9, 2, 30, 7, 7, 11, 3, 36, 0, 4]),
    ("qwen2_bias_f16", {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
                        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                        "intermediate_size": 36, "vocab_size": 29, "max_position_embeddings": 32,
                        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
                        "hidden_act": "silu", "use_sliding_window": False, "sliding_window": 4},
     "F16", 2, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]),
    ("mistral_f32", {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 32,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
                     "head_dim": 16, "intermediate_size": 20, "vocab_size": 23,
                     "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                     "tie_word_embeddings": False, "hidden_act": "silu", "sliding_window": 32},
     "F32", 1, [0, 22, 5, 5, 17, 8]),
]


def random_tensors(cfg, dtype, rng):
    C, L, NH = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    NKV = cfg.get("num_key_value_heads") or NH
    hs = cfg.get("head_dim") or C // NH
    H, V = cfg["intermediate_size"], cfg["vocab_size"]
    qwen = cfg["model_type"] == "qwen2"
    T = []

    def mat(name, r, c, std=0.3):
        T.append((name, dtype, [r, c], [rng.gauss(0, std) for _ in range(r * c)]))

    def vec(name, n, one=False, std=0.3):
        T.append((name, dtype, [n], [(1.0 if one else 0.0) + rng.gauss(0, std) for _ in range(n)]))

    mat("model.embed_tokens.weight", V, C, 1.0)
    for l in range(L):
        p = "model.layers.%d." % l
        vec(p + "input_layernorm.weight", C, True)
        mat(p + "self_attn.q_proj.weight", NH * hs, C)
        mat(p + "self_attn.k_proj.weight", NKV * hs, C)
        mat(p + "self_attn.v_proj.weight", NKV * hs, C)
        if qwen:
            vec(p + "self_attn.q_proj.bias", NH * hs)
            vec(p + "self_attn.k_proj.bias", NKV * hs)
            vec(p + "self_attn.v_proj.bias", NKV * hs)
        mat(p + "self_attn.o_proj.weight", C, NH * hs)
        vec(p + "post_attention_layernorm.weight", C, True)
        mat(p + "mlp.gate_proj.weight", H, C)
        mat(p + "mlp.up_proj.weight", H, C)
        mat(p + "mlp.down_proj.weight", C, H)
    vec("model.norm.weight", C, True)
    if not cfg["tie_word_embeddings"]:
        mat("lm_head.weight", V, C)
    return T


def write_folder(folder, cfg, tensors, shards):
    os.makedirs(folder, exist_ok=True)
    json.dump(cfg, open(folder + "/config.json", "w"), indent=1)
    if shards == 1:
        write_st(folder + "/model.safetensors", tensors)
        return
    n = len(tensors)
    cut = [n * k // shards for k in range(shards + 1)]
    wm = {}
    for k in range(shards):
        name = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        part = tensors[cut[k]:cut[k + 1]]
        write_st(folder + "/" + name, part)
        for tname, *_ in part:
            wm[tname] = name
    json.dump({"metadata": {}, "weight_map": wm}, open(folder + "/model.safetensors.index.json", "w"), indent=1)


def write_ref(folder, cfg, t, ids):
    """ref_logprobs.tsv: the ids, then one line per position: all V log-probabilities"""
    lp = forward(cfg, t, ids)
    with open(folder + "/ref_logprobs.tsv", "w") as f:
        f.write("# llama_ref.py log-probabilities after each prefix of the ids; line 2 the ids\n")
        f.write(" ".join(map(str, ids)) + "\n")
        for row in lp:
            f.write(" ".join("%.9g" % v for v in row) + "\n")


def make(root):
    for name, cfg, dtype, shards, ids in MODELS:
        rng = random.Random(name)
        folder = root + "/" + name
        write_folder(folder, cfg, random_tensors(cfg, dtype, rng), shards)
        c2, t = load(folder)  # the stored (rounded) values
        write_ref(folder, c2, t, ids)
        print("wrote", folder)


def read_llama2c(path):
    raw = open(path, "rb").read()
    magic = struct.unpack("<I", raw[:4])[0]
    assert magic != 0x616B3432, "version-0 (legacy) files only"
    dim, hidden, L, NH, NKV, V, maxT = struct.unpack("<7i", raw[:28])
    shared = V > 0
    V = abs(V)
    hs = dim // NH
    fl = struct.unpack("<%df" % ((len(raw) - 28) // 4), raw[28:])
    pos = [0]

    def take(n):
        v = fl[pos[0]:pos[0] + n]
        pos[0] += n
        return list(v)

    kv = NKV * hs
    w = {"emb": take(V * dim), "att": take(L * dim), "wq": take(L * dim * dim), "wk": take(L * kv * dim),
         "wv": take(L * kv * dim), "wo": take(L * dim * dim), "ffn": take(L * dim), "w1": take(L * hidden * dim),
         "w2": take(L * dim * hidden), "w3": take(L * hidden * dim), "fin": take(dim)}
    take(maxT * hs // 2 * 2)
    w["cls"] = w["emb"] if shared else take(V * dim)
    assert pos[0] == len(fl)
    return dict(dim=dim, hidden=hidden, L=L, NH=NH, NKV=NKV, V=V, maxT=maxT, shared=shared), w


def permute_rows(flat, nheads, hs, cols):
    """interleaved pairs -> halves: row 2i+s of each head goes to row s*hs/2 + i"""
    out = [0.0] * len(flat)
    for h in range(nheads):
        for s in range(2):
            for i in range(hs // 2):
                src, dst = h * hs + 2 * i + s, h * hs + s * (hs // 2) + i
                out[dst * cols:(dst + 1) * cols] = flat[src * cols:(src + 1) * cols]
    return out


def convert(binpath, folder):
    p, w = read_llama2c(binpath)
    dim, H, L, NH, NKV, V = p["dim"], p["hidden"], p["L"], p["NH"], p["NKV"], p["V"]
    hs, kv = dim // NH, NKV * (dim // NH)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
           "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
           "intermediate_size": H, "vocab_size": V, "max_position_embeddings": p["maxT"],
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": p["shared"],
           "hidden_act": "silu"}
    T = [("model.embed_tokens.weight", "F32", [V, dim], w["emb"])]
    for l in range(L):
        pf = "model.layers.%d." % l
        sl = lambda k, n: w[k][l * n:(l + 1) * n]
        T += [(pf + "input_layernorm.weight", "F32", [dim], sl("att", dim)),
              (pf + "self_attn.q_proj.weight", "F32", [dim, dim], permute_rows(sl("wq", dim * dim), NH, hs, dim)),
              (pf + "self_attn.k_proj.weight", "F32", [kv, dim], permute_rows(sl("wk", kv * dim), NKV, hs, dim)),
              (pf + "self_attn.v_proj.weight", "F32", [kv, dim], sl("wv", kv * dim)),
              (pf + "self_attn.o_proj.weight", "F32", [dim, dim], sl("wo", dim * dim)),
              (pf + "post_attention_layernorm.weight", "F32", [dim], sl("ffn", dim)),
              (pf + "mlp.gate_proj.weight", "F32", [H, dim], sl("w1", H * dim)),
              (pf + "mlp.up_proj.weight", "F32", [H, dim], sl("w3", H * dim)),
              (pf + "mlp.down_proj.weight", "F32", [dim, H], sl("w2", dim * H))]
    T.append(("model.norm.weight", "F32", [dim], w["fin"]))
    if not p["shared"]:
        T.append(("lm_head.weight", "F32", [V, dim], w["cls"]))
    write_folder(folder, cfg, T, 2)  # sharded, to exercise the index
    # the reference on the converted folder against llama2.c's own numbers
    exp = os.path.join(os.path.dirname(binpath), "expect_next.tsv")
    c2, t = load(folder)
    worst = 0.0
    for line in open(exp):
        if line.startswith("#"):
            continue
        ids_s, rest = line.rstrip("\n").split("\t")
        ids = [int(x) for x in ids_s.split()]
        lp = forward(c2, t, ids)[-1]
        for kv_ in rest.split():
            tok, v = kv_.split(":")
            worst = max(worst, abs(lp[int(tok)] - float(v)))
    print("converted %s -> %s; reference vs llama2.c expect_next.tsv: max |diff| %.3g" % (binpath, folder, worst))
    assert worst < 2e-4


def next_tokens(folder, ids):
    cfg, t = load(folder)
    lp = forward(cfg, t, ids)[-1]
    top = sorted(range(len(lp)), key=lambda i: -lp[i])[:10]
    print(" ".join("%d:%.7f" % (i, lp[i]) for i in top))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "next":
        next_tokens(sys.argv[2], [int(x) for x in sys.argv[3:]])
    else:
        sys.exit(__doc__)
