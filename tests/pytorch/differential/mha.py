#!/usr/bin/python3
# Differential check: random nn.MultiheadAttention calls, PyTorch 1.13 vs mhacheck (errors + output shapes).
import random, json, subprocess, sys, torch, warnings, os
warnings.filterwarnings("ignore")
seed = int(sys.argv[1]); count = int(sys.argv[2]); M = sys.argv[3]
random.seed(seed)
def pert(v):
    r = random.random()
    if r < 0.85: return v
    return random.choice([1, 2, 3, 4, 6, 8, v + 1, max(1, v - 1)])
def gen():
    E = random.choice([4, 6, 8, 12, 16]); H = random.choice([1, 2, 3, 4])
    if random.random() < 0.9:
        while E % H: H = random.choice([1, 2, 4])
    kdim = random.choice([None, None, E, 5, 10]); vdim = random.choice([None, None, E, 7, 10])
    bf = random.random() < 0.5
    opts = dict(embed_dim=E, num_heads=H, batch_first=bf)
    if kdim is not None: opts["kdim"] = kdim
    if vdim is not None: opts["vdim"] = vdim
    if random.random() < 0.2: opts["add_bias_kv"] = True
    if random.random() < 0.2: opts["add_zero_attn"] = True
    if random.random() < 0.15: opts["bias"] = False
    N = random.choice([1, 2, 3]); L = random.choice([1, 2, 3, 5]); S = random.choice([1, 2, 4, 5])
    unb = random.random() < 0.2
    Kd = kdim if kdim is not None else E; Vd = vdim if vdim is not None else E
    def t(seq, feat):
        sh = [seq, feat] if unb else ([N, seq, feat] if bf else [seq, N, feat])
        sh = [pert(x) for x in sh]
        if random.random() < 0.04: sh = sh[:-1]
        if random.random() < 0.03: sh = sh + [2]
        return sh
    q, k, v = t(L, E), t(S, Kd), t(S, Vd)
    if random.random() < 0.3: k = list(v) if random.random() < 0.5 else k
    args = {"query": q, "key": k, "value": v}
    mdt = random.choice(["bool", "float32"])
    if random.random() < 0.4:
        sh = random.choice([[N, S], [S], [N, L], [N, S + 1], [1, S], [N, 1]]) if not unb else random.choice([[S], [N, S], [1, S]])
        args["key_padding_mask"] = {"shape": [pert(x) for x in sh], "dtype": mdt}
    if random.random() < 0.4:
        sh = random.choice([[L, S], [N * H, L, S], [1, L, S], [S, L], [N, L, S], [L, S + 1], [H, L, S]])
        args["attn_mask"] = {"shape": [pert(x) for x in sh], "dtype": mdt}
    if random.random() < 0.3: args["need_weights"] = False
    if random.random() < 0.3: args["average_attn_weights"] = False
    return opts, args
def ctor(opts):
    return "nn.MultiheadAttention(" + ", ".join(f"{k}={v}" for k, v in opts.items()) + ")"
def run_torch(opts, args):
    torch.manual_seed(0)
    try:
        m = torch.nn.MultiheadAttention(**opts)
        def mk(a):
            if isinstance(a, dict):
                if a["dtype"] == "bool": return torch.rand(a["shape"]) < 0.3
                return torch.zeros(a["shape"])
            return torch.randn(a)
        kw = {k: (mk(v) if k in ("query", "key", "value", "key_padding_mask", "attn_mask") else v) for k, v in args.items()}
        out, w = m(kw.pop("query"), kw.pop("key"), kw.pop("value"), **kw)
        return True, [list(out.shape), None if w is None else list(w.shape)], ""
    except Exception as e:
        return False, None, type(e).__name__ + ": " + str(e).split("\n")[0][:150]
bad = 0
for i in range(count):
    opts, args = gen()
    spec = {"module": ctor(opts), **args}
    ok_t, shapes, err = run_torch(opts, args)
    p = subprocess.run([M, "check", "-", "--format", "json"], input=json.dumps(spec), capture_output=True, text=True)
    try: r = json.loads(p.stdout)
    except Exception: print("NOJSON", spec, p.stderr[:300]); bad += 1; continue
    if r["input_error"]:
        # module construction errors (mhacheck reports invalid constructor as input error?)
        pass
    ok_m = r["summary"]["errors"] == 0 and not r["input_error"]
    mism = ok_t != ok_m
    if not mism and ok_t:
        o = r["outputs"]
        ms = [o.get("attn_output", {}).get("shape"), (o.get("attn_output_weights") or {}).get("shape")]
        if ms != shapes: mism = True; err = f"shapes torch {shapes} mhacheck {ms}"
    if mism:
        bad += 1
        codes = [d["code"] + ":" + d["severity"][:1] for d in r["diagnostics"]]
        print("MISMATCH", json.dumps(spec), "| torch ok" if ok_t else "| torch: " + err, "| mhacheck", codes, "exit", p.returncode)
print("seed", seed, "cases", count, "mismatches", bad)
