#!/usr/bin/python3
# Differential check: random nn.Transformer* calls, PyTorch 1.13 vs mhacheck (errors + output shapes).
import random, json, subprocess, sys, torch, warnings
warnings.filterwarnings("ignore")
seed = int(sys.argv[1]); count = int(sys.argv[2]); M = sys.argv[3]
random.seed(seed)
def pert(v):
    return v if random.random() < 0.88 else random.choice([1, 2, 3, 4, 6, 8, v + 1, max(1, v - 1)])
def gen():
    kind = random.choice(["TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer", "TransformerEncoder", "TransformerDecoder"])
    d = random.choice([4, 6, 8]); h = random.choice([1, 2, 3, 4])
    if random.random() < 0.9:
        while d % h: h = random.choice([1, 2])
    bf = random.random() < 0.5
    N = random.choice([1, 2, 3]); T = random.choice([1, 2, 3, 5]); S = random.choice([1, 2, 4, 5])
    unb = random.random() < 0.15
    def t(seq):
        sh = [seq, d] if unb else ([N, seq, d] if bf else [seq, N, d])
        sh = [pert(x) for x in sh]
        if random.random() < 0.03: sh = sh[:-1]
        return sh
    mdt = random.choice(["bool", "float32"])
    def mask(cands):
        sh = random.choice(cands)
        return {"shape": [pert(x) for x in sh], "dtype": mdt}
    nf = random.random() < 0.3
    layer_opts = f"d_model={d}, nhead={h}, dim_feedforward=16, dropout=0.0, batch_first={bf}, norm_first={nf}"
    args = {}
    pad = lambda L: mask([[N, L], [L], [N, L + 1], [L, N], [1, L]] if not unb else [[L], [1, L], [N, L]])
    sq = lambda L1, L2: mask([[L1, L2], [N * h, L1, L2], [L2, L1], [L1, L2 + 1], [N, L1, L2]])
    if kind == "TransformerEncoderLayer":
        ctor = f"nn.TransformerEncoderLayer({layer_opts})"; args["src"] = t(S)
        if random.random() < 0.4: args["src_mask"] = sq(S, S)
        if random.random() < 0.4: args["src_key_padding_mask"] = pad(S)
        ctor_py = lambda: torch.nn.TransformerEncoderLayer(d, h, 16, 0.0, batch_first=bf, norm_first=nf)
    elif kind == "TransformerEncoder":
        ctor = f"nn.TransformerEncoder(nn.TransformerEncoderLayer({layer_opts}), num_layers=2)"; args["src"] = t(S)
        if random.random() < 0.4: args["mask"] = sq(S, S)
        if random.random() < 0.4: args["src_key_padding_mask"] = pad(S)
        ctor_py = lambda: torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(d, h, 16, 0.0, batch_first=bf, norm_first=nf), num_layers=2)
    else:
        if kind == "TransformerDecoderLayer":
            ctor = f"nn.TransformerDecoderLayer({layer_opts})"
            ctor_py = lambda: torch.nn.TransformerDecoderLayer(d, h, 16, 0.0, batch_first=bf, norm_first=nf)
        elif kind == "TransformerDecoder":
            ctor = f"nn.TransformerDecoder(nn.TransformerDecoderLayer({layer_opts}), num_layers=2)"
            ctor_py = lambda: torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(d, h, 16, 0.0, batch_first=bf, norm_first=nf), num_layers=2)
        else:
            ctor = f"nn.Transformer(d_model={d}, nhead={h}, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0, batch_first={bf}, norm_first={nf})"
            ctor_py = lambda: torch.nn.Transformer(d, h, 1, 1, 16, 0.0, batch_first=bf, norm_first=nf)
            args["src"] = t(S)
            if random.random() < 0.3: args["src_mask"] = sq(S, S)
            if random.random() < 0.3: args["src_key_padding_mask"] = pad(S)
        args["tgt"] = t(T)
        if kind != "Transformer": args["memory"] = t(S)
        if random.random() < 0.4: args["tgt_mask"] = sq(T, T)
        if random.random() < 0.3: args["memory_mask"] = sq(T, S)
        if random.random() < 0.3: args["tgt_key_padding_mask"] = pad(T)
        if random.random() < 0.3: args["memory_key_padding_mask"] = pad(S)
    return ctor, ctor_py, args
def run_torch(ctor_py, args):
    torch.manual_seed(0)
    try:
        m = ctor_py().eval()
        def mk(a):
            if isinstance(a, dict):
                if a["dtype"] == "bool": return torch.rand(a["shape"]) < 0.2
                return torch.zeros(a["shape"])
            return torch.randn(a)
        kw = {k: mk(v) for k, v in args.items()}
        with torch.no_grad():
            out = m(**kw)
        return True, list(out.shape), ""
    except Exception as e:
        return False, None, type(e).__name__ + ": " + str(e).split("\n")[0][:150]
bad = 0
for i in range(count):
    ctor, ctor_py, args = gen()
    spec = {"module": ctor, **args}
    ok_t, shape, err = run_torch(ctor_py, args)
    p = subprocess.run([M, "check", "-", "--format", "json"], input=json.dumps(spec), capture_output=True, text=True)
    try: r = json.loads(p.stdout)
    except Exception: print("NOJSON", json.dumps(spec), p.stderr[:300]); bad += 1; continue
    ok_m = r["summary"]["errors"] == 0 and not r["input_error"]
    mism = ok_t != ok_m
    if not mism and ok_t:
        ms = (r["outputs"].get("output") or {}).get("shape")
        if ms != shape: mism = True; err = f"shapes torch {shape} mhacheck {ms}"
    if mism:
        bad += 1
        codes = [d["code"] + ":" + d["severity"][:1] for d in r["diagnostics"]]
        msg = r["diagnostics"][0]["message"][:200] if r["diagnostics"] else ""
        print("MISMATCH", json.dumps(spec), "| torch ok" if ok_t else "| torch: " + err, "| mhacheck", codes, msg, "exit", p.returncode)
print("seed", seed, "cases", count, "mismatches", bad)
