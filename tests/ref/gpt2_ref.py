#!/usr/bin/env python3
"""Independent, slow, pure-Python GPT-2 forward for tiny Hugging Face models.

Used once to produce the golden log-probabilities in tests/test_loader.c from the
fixtures in tests/data/ (it follows the Hugging Face GPT2Model code path: Conv1D weights
stored (in, out), x @ W + b). Not run by the test suite; kept so the numbers can be
regenerated:  python3 tests/ref/gpt2_ref.py tests/data/lm_buddy_tiny_gpt2 10 11 13
"""
import json, math, struct, sys


def load(folder):
    cfg = json.load(open(folder + "/config.json"))
    raw = open(folder + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    t = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32"
        b, e = v["data_offsets"]
        flat = list(struct.unpack("<%df" % ((e - b) // 4), data[b:e]))
        shape = v["shape"]
        if k.startswith("transformer."):
            k = k[len("transformer."):]
        if len(shape) == 2:
            flat = [flat[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
        t[k] = flat
    return cfg, t


def layernorm(x, w, b, eps=1e-5):
    m = sum(x) / len(x)
    v = sum((a - m) ** 2 for a in x) / len(x)
    s = 1.0 / math.sqrt(v + eps)
    return [(a - m) * s * wi + bi for a, wi, bi in zip(x, w, b)]


def linear(x, W, b):  # W stored (in, out)
    return [sum(x[i] * W[i][o] for i in range(len(x))) + b[o] for o in range(len(b))]


def gelu(x):
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, t, ids):
    C, NH, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    hs = C // NH
    xs = [[a + b for a, b in zip(t["wte.weight"][tok], t["wpe.weight"][p])] for p, tok in enumerate(ids)]
    for l in range(L):
        p = "h.%d." % l
        qkv = [linear(layernorm(x, t[p + "ln_1.weight"], t[p + "ln_1.bias"]), t[p + "attn.c_attn.weight"], t[p + "attn.c_attn.bias"]) for x in xs]
        ys = []
        for i in range(len(xs)):
            y = []
            for h in range(NH):
                q = qkv[i][h * hs:(h + 1) * hs]
                sc = [sum(q[d] * qkv[j][C + h * hs + d] for d in range(hs)) / math.sqrt(hs) for j in range(i + 1)]
                mx = max(sc)
                e = [math.exp(s - mx) for s in sc]
                z = sum(e)
                y += [sum(e[j] / z * qkv[j][2 * C + h * hs + d] for j in range(i + 1)) for d in range(hs)]
            ys.append(y)
        xs = [[a + b for a, b in zip(x, linear(y, t[p + "attn.c_proj.weight"], t[p + "attn.c_proj.bias"]))] for x, y in zip(xs, ys)]
        out = []
        for x in xs:
            hcur = linear(layernorm(x, t[p + "ln_2.weight"], t[p + "ln_2.bias"]), t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"])
            hcur = [gelu(a) for a in hcur]
            out.append([a + b for a, b in zip(x, linear(hcur, t[p + "mlp.c_proj.weight"], t[p + "mlp.c_proj.bias"]))])
        xs = out
    xf = layernorm(xs[-1], t["ln_f.weight"], t["ln_f.bias"])
    logits = [sum(a * b for a, b in zip(xf, row)) for row in t["wte.weight"]]
    mx = max(logits)
    lse = mx + math.log(sum(math.exp(v - mx) for v in logits))
    return [v - lse for v in logits]


if __name__ == "__main__" and sys.argv[1] != "--llmc":
    cfg, t = load(sys.argv[1])
    lp = forward(cfg, t, [int(a) for a in sys.argv[2:]])
    top = sorted(range(len(lp)), key=lambda i: -lp[i])[:8]
    print("first 8 logprobs:", ", ".join("%.7ff" % v for v in lp[:8]))
    print("top:", ", ".join("{%d, %.7ff}" % (i, lp[i]) for i in top))


def make_llmc(path, seed=1234, maxT=16, V=29, Vp=32, L=2, NH=2, C=8, std=0.5):
    """Writes a random llm.c v3 checkpoint (Python's random, so it is independent of prune's
    RNG) and returns (cfg, tensors) in the Hugging Face (in, out) convention for forward()."""
    import random
    rnd = random.Random(seed)
    g = lambda n, base=0.0: [base + rnd.gauss(0, std) for _ in range(n)]
    wte = [g(C) if r < V else [0.0] * C for r in range(Vp)]
    wpe = [g(C) for _ in range(maxT)]
    layers = []
    for l in range(L):
        layers.append({
            "ln1w": g(C, 1.0), "ln1b": g(C), "qkvw": [g(C) for _ in range(3 * C)], "qkvb": g(3 * C),
            "projw": [g(C) for _ in range(C)], "projb": g(C), "ln2w": g(C, 1.0), "ln2b": g(C),
            "fcw": [g(C) for _ in range(4 * C)], "fcb": g(4 * C), "fcprojw": [g(4 * C) for _ in range(C)],
            "fcprojb": g(C)})
    lnfw, lnfb = g(C, 1.0), g(C)
    flat = []
    flat += sum(wte, []) + sum(wpe, [])
    for key in ["ln1w", "ln1b", "qkvw", "qkvb", "projw", "projb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb"]:
        for l in range(L):
            v = layers[l][key]
            flat += sum(v, []) if isinstance(v[0], list) else v
    flat += lnfw + lnfb
    hdr = [20240326, 3, maxT, V, L, NH, C, Vp] + [0] * 248
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *hdr))
        f.write(struct.pack("<%df" % len(flat), *flat))
    T = lambda m: [list(r) for r in zip(*m)]  # (out, in) -> (in, out)
    t = {"wte.weight": wte[:V], "wpe.weight": wpe, "ln_f.weight": lnfw, "ln_f.bias": lnfb}
    for l, d in enumerate(layers):
        p = "h.%d." % l
        t.update({p + "ln_1.weight": d["ln1w"], p + "ln_1.bias": d["ln1b"], p + "attn.c_attn.weight": T(d["qkvw"]),
                  p + "attn.c_attn.bias": d["qkvb"], p + "attn.c_proj.weight": T(d["projw"]), p + "attn.c_proj.bias": d["projb"],
                  p + "ln_2.weight": d["ln2w"], p + "ln_2.bias": d["ln2b"], p + "mlp.c_fc.weight": T(d["fcw"]),
                  p + "mlp.c_fc.bias": d["fcb"], p + "mlp.c_proj.weight": T(d["fcprojw"]), p + "mlp.c_proj.bias": d["fcprojb"]})
    return {"n_embd": C, "n_head": NH, "n_layer": L}, t


def golden_llmc(path):
    """python3 tests/ref/gpt2_ref.py --llmc tests/data/golden_l2h2.bin"""
    cfg, t = make_llmc(path)
    for ids in ([3, 17, 5, 28, 0, 9, 12], [21, 4]):
        lp = forward(cfg, t, ids)
        print("ids", ids, "logprobs:", ", ".join("%.7ff" % v for v in lp))


if __name__ == "__main__" and sys.argv[1] == "--llmc":
    golden_llmc(sys.argv[2])
