#!/usr/bin/python3
# Numeric differential: random valid nn.MultiheadAttention / Transformer layer calls run by PyTorch 1.13 and by
# `mhacheck run` on the same inputs and state_dict; compares every output.
import random, json, subprocess, sys, os, tempfile, torch, numpy as np, warnings
warnings.filterwarnings("ignore")
seed = int(sys.argv[1]); count = int(sys.argv[2]); M = sys.argv[3]
random.seed(seed); torch.manual_seed(seed)
work = tempfile.mkdtemp(prefix="fwd")
def mask(shape, kind, causal_ok=True):
    if kind == "bool":
        m = torch.rand(shape) < 0.3
        m[..., 0] = False  # keep one key per row
        return m
    m = torch.randn(shape)
    return m
bad = 0; worst = 0.0
for i in range(count):
    kind = random.choice(["mha", "mha", "enc", "dec"])
    E = random.choice([4, 8, 12]); H = random.choice([h for h in (1, 2, 4) if E % h == 0])
    N = random.choice([1, 2, 3]); L = random.choice([1, 3, 5]); S = random.choice([1, 2, 4]); bf = random.random() < 0.5
    mk = lambda seq, feat: torch.randn([N, seq, feat] if bf else [seq, N, feat])
    tensors = {}; args = {}
    mdt = random.choice(["bool", "float"])
    if kind == "mha":
        opts = dict(embed_dim=E, num_heads=H, batch_first=bf)
        if random.random() < 0.3: opts["kdim"] = 6
        if random.random() < 0.3: opts["vdim"] = 10
        if random.random() < 0.2: opts["add_bias_kv"] = True
        if random.random() < 0.2: opts["add_zero_attn"] = True
        if random.random() < 0.2: opts["bias"] = False
        module = torch.nn.MultiheadAttention(**opts).eval()
        q = mk(L, E); k = mk(S, opts.get("kdim", E)); v = mk(S, opts.get("vdim", E))
        if random.random() < 0.3 and "kdim" not in opts and "vdim" not in opts: k = v = q; S = L
        tensors = {"query": q, "key": k, "value": v}
        if random.random() < 0.4: tensors["key_padding_mask"] = mask([N, S], "bool")
        if random.random() < 0.4: tensors["attn_mask"] = mask(random.choice([[L, S], [N * H, L, S]]), mdt)
        kw = {}
        if random.random() < 0.3: kw["need_weights"] = False
        if random.random() < 0.3: kw["average_attn_weights"] = False
        # With autograd on (no torch.no_grad()), 1.13 takes the standard path, not its fast path.
        out = module(tensors["query"], tensors["key"], tensors["value"], key_padding_mask=tensors.get("key_padding_mask"), attn_mask=tensors.get("attn_mask"), **kw)
        outs = {"attn_output": out[0]}
        if out[1] is not None: outs["attn_output_weights"] = out[1]
        ctor = "nn.MultiheadAttention(" + ", ".join(f"{a}={b}" for a, b in opts.items()) + ")"
        mod = {"type": "MultiheadAttention", **opts}
        names = {"attn_output": "attn_output", "attn_output_weights": "attn_output_weights"}
    else:
        nf = random.random() < 0.5; act = random.choice(["relu", "gelu"])
        lay = f"d_model={E}, nhead={H}, dim_feedforward=16, dropout=0.0, activation='{act}', batch_first={bf}, norm_first={nf}"
        if kind == "enc":
            module = torch.nn.TransformerEncoderLayer(E, H, 16, 0.0, activation=act, batch_first=bf, norm_first=nf).eval()
            ctor = f"nn.TransformerEncoderLayer({lay})"
            mod = {"type": "TransformerEncoderLayer", "d_model": E, "nhead": H, "dim_feedforward": 16, "dropout": 0.0, "activation": act, "batch_first": bf, "norm_first": nf}
            tensors = {"src": mk(S, E)}
            if random.random() < 0.4: tensors["src_mask"] = mask([S, S], mdt)
            if random.random() < 0.4: tensors["src_key_padding_mask"] = mask([N, S], "bool")
            o = module(tensors["src"], src_mask=tensors.get("src_mask"), src_key_padding_mask=tensors.get("src_key_padding_mask"))
        else:
            module = torch.nn.TransformerDecoderLayer(E, H, 16, 0.0, activation=act, batch_first=bf, norm_first=nf).eval()
            ctor = f"nn.TransformerDecoderLayer({lay})"
            mod = {"type": "TransformerDecoderLayer", "d_model": E, "nhead": H, "dim_feedforward": 16, "dropout": 0.0, "activation": act, "batch_first": bf, "norm_first": nf}
            tensors = {"tgt": mk(L, E), "memory": mk(S, E)}
            if random.random() < 0.4: tensors["tgt_mask"] = mask([L, L], mdt)
            if random.random() < 0.3: tensors["memory_mask"] = mask([L, S], mdt)
            if random.random() < 0.3: tensors["tgt_key_padding_mask"] = mask([N, L], "bool")
            if random.random() < 0.3: tensors["memory_key_padding_mask"] = mask([N, S], "bool")
            o = module(**tensors)
        outs = {"output": o}
    # 1.13 and 2.x differ for a float key_padding_mask with a bool attn_mask: keep one dtype per case (already).
    wfile = os.path.join(work, f"w{i}.npz"); ifile = os.path.join(work, f"i{i}.npz"); ofile = os.path.join(work, f"o{i}.npz")
    np.savez(wfile, **{k: v.detach().numpy() for k, v in module.state_dict().items()})
    np.savez(ifile, **{k: v.numpy() for k, v in tensors.items()})
    spec_full = {"modules": {"m": ctor}, "calls": [{"id": "c", "module": "m", **{k: {"file": ifile, "key": k} for k in tensors}}]}
    if kind == "mha":
        for k in ("need_weights", "average_attn_weights"):
            if k in kw: spec_full["calls"][0][k] = kw[k]
    spec_full["modules"]["m"] = {**mod, "weights": wfile}
    sfile = os.path.join(work, f"s{i}.json"); json.dump(spec_full, open(sfile, "w"))
    p = subprocess.run([M, "run", sfile, "--save", ofile, "--format", "json"], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(ofile):
        bad += 1; print("RUNFAIL", sfile, p.returncode, p.stdout[-600:], p.stderr[-300:]); continue
    z = np.load(ofile)
    for name, t in outs.items():
        key = name if name in z else f"c.{name}"
        if key not in z: bad += 1; print("MISSING", name, list(z.keys()), sfile); continue
        a = z[key]; b = t.detach().numpy()
        if a.shape != b.shape: bad += 1; print("SHAPE", name, a.shape, b.shape, sfile); continue
        both_nan = np.isnan(a) & np.isnan(b)
        diff = np.abs(np.where(both_nan, 0, a - b))
        d = float(np.nanmax(diff)) if diff.size else 0.0
        if np.isnan(a).sum() != np.isnan(b).sum(): d = float("inf")
        worst = max(worst, d)
        if d > 1e-4: bad += 1; print("VALUE", name, d, sfile, ctor)
print("seed", seed, "cases", count, "bad", bad, "worst", worst)
