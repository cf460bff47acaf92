#!/usr/bin/python3
# Differential check: random chains of glue ops, PyTorch 1.13 vs mhacheck (errors + every output's shape/dtype).
import random, json, subprocess, sys, torch, warnings
warnings.filterwarnings("ignore")
seed = int(sys.argv[1]); count = int(sys.argv[2]); M = sys.argv[3]
random.seed(seed)
DT = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool, "float16": torch.float16}
TN = {v: k for k, v in DT.items()}
def rshape(r=None):
    r = random.randint(0, 4) if r is None else r
    return [random.choice([1, 1, 2, 3, 4, 6]) for _ in range(r)]
def rdim(n, extra=0):
    m = n + extra
    if m == 0: return random.choice([0, -1])
    return random.randint(-m - (1 if random.random() < 0.05 else 0), m - 1 + (1 if random.random() < 0.05 else 0))
def gen_op(env):
    name = random.choice(list(env)); sh = env[name][0]; n = len(sh)
    other = random.choice(list(env))
    ops = ["transpose", "permute", "reshape", "view", "unsqueeze", "squeeze", "flatten", "cat", "add", "mul", "div", "sub", "matmul", "bmm",
           "softmax", "sum", "mean", "masked_fill", "expand", "repeat", "repeat_interleave", "getitem", "select", "narrow", "split", "chunk",
           "tril", "pad", "eq", "contiguous", "logical_and", "bitwise_not", "split_with_sizes", "max", "amax", "logsumexp", "vector_norm",
           "stack", "log_softmax", "normalize", "clamp", "pow", "argmax", "argmin", "min", "cumsum", "flip", "expand_as", "view_as",
           "reshape_as", "type_as", "ones_like", "linear", "layer_norm", "unbind"]
    op = random.choice(ops)
    a = {"input": name}
    if op == "transpose": a.update(dim0=rdim(n), dim1=rdim(n))
    elif op == "permute":
        p = list(range(n)); random.shuffle(p)
        if random.random() < 0.1 and p: p[0] = p[-1]
        if random.random() < 0.2: p = [x - n for x in p]
        a["dims"] = p
    elif op in ("reshape", "view"):
        total = 1
        for x in sh: total *= x
        k = random.randint(1, 3); dims = []
        rem = total
        for i in range(k - 1):
            f = random.choice([d for d in range(1, rem + 1) if rem % d == 0]) if rem > 0 else random.choice([0, 1])
            dims.append(f); rem = rem // f if f else rem
        dims.append(rem)
        if random.random() < 0.4: dims[random.randrange(len(dims))] = -1
        if random.random() < 0.08: dims[0] += 1
        a["shape"] = dims
    elif op == "unsqueeze": a["dim"] = rdim(n, 1)
    elif op == "squeeze": a["dim"] = None if random.random() < 0.3 else rdim(n)
    elif op == "flatten": a.update(start_dim=rdim(n), end_dim=rdim(n))
    elif op == "cat":
        a = {"tensors": [name, other], "dim": rdim(n)}
    elif op in ("add", "mul", "div", "sub", "eq", "logical_and"):
        a["other"] = other if random.random() < 0.8 else random.choice([2, 0.5, True])
        if op == "logical_and" and not isinstance(a["other"], str): a["other"] = other
    elif op == "matmul": a["other"] = other
    elif op == "bmm": a["mat2"] = other
    elif op == "softmax": a["dim"] = rdim(n)
    elif op in ("sum", "mean"):
        a["dim"] = random.choice([None, rdim(n), [rdim(n), rdim(n)]]); a["keepdim"] = random.random() < 0.3
    elif op == "max":
        if random.random() < 0.7: a.update(dim=rdim(n), keepdim=random.random() < 0.5)
    elif op in ("amax", "logsumexp", "vector_norm"):
        a["dim"] = random.choice([[] if op != "vector_norm" else None, rdim(n), [rdim(n), rdim(n)]]); a["keepdim"] = random.random() < 0.4
        if op == "vector_norm": a["ord"] = random.choice([2, 1, "inf", 0, -1, 3])
    elif op == "masked_fill":
        # a bool mask only: PyTorch 2.x refuses any other dtype (1.13 took uint8/float ones too)
        masks = [k for k, (_, t) in env.items() if t.dtype == torch.bool]
        if not masks: return gen_op(env)
        a.update(mask=random.choice(masks), value=random.choice([0, "-inf", True]))
    elif op == "expand":
        a["size"] = [random.choice([-1, x, 2 * x if x == 1 else x, 3]) for x in sh]
        if random.random() < 0.3: a["size"] = [2] + a["size"]
    elif op == "repeat": a["repeats"] = [random.choice([1, 2]) for _ in range(n + random.choice([0, 0, 1, -1]))]
    elif op == "repeat_interleave": a.update(repeats=random.choice([1, 2, 3]), dim=random.choice([None, rdim(n)]))
    elif op == "getitem":
        items = []
        for i in range(random.randint(1, max(1, n))):
            items.append(random.choice([":", "0", "-1", "1:", ":2", "::2", "None", "...", "1:3:2", "2"]))
        a["index"] = "[" + ", ".join(items) + "]"
    elif op == "select": a.update(dim=rdim(n), index=random.choice([0, 1, -1, 2]))
    elif op == "narrow": a.update(dim=rdim(n), start=random.choice([0, 1, -1]), length=random.choice([0, 1, 2]))
    elif op == "split": a.update(split_size=random.choice([1, 2, 3]), dim=rdim(n))
    elif op == "split_with_sizes":
        d = rdim(n); size = sh[d] if n and -n <= d < n else 2
        parts = [size] if random.random() < 0.4 else [1, max(0, size - 1)]
        if random.random() < 0.1: parts = [1, 1]
        a.update(split_sizes=parts, dim=d)
    elif op == "chunk": a.update(chunks=random.choice([1, 2, 3]), dim=rdim(n))
    elif op == "tril": a["diagonal"] = random.choice([0, 1, -1])
    elif op == "pad": a["pad"] = random.choice([[1, 0], [0, 1, 1, 1], [-1, 0], [1, 1, 1, 1, 1, 1]])
    elif op == "stack": a = {"tensors": [name, other] if random.random() < 0.7 else [name, name], "dim": rdim(n, 1)}
    elif op in ("log_softmax", "cumsum", "unbind"): a["dim"] = rdim(n)
    elif op == "normalize": a.update(dim=rdim(n), p=random.choice([2.0, 1.0]))
    elif op == "clamp": a.update(random.choice([{"min": 0}, {"max": 0.5}, {"min": -1, "max": 1}]))
    elif op == "pow": a["exponent"] = other if random.random() < 0.3 else random.choice([2, 0.5, -1])
    elif op in ("argmax", "argmin", "min"):
        if random.random() < 0.7: a.update(dim=rdim(n), keepdim=random.random() < 0.5)
    elif op == "flip": a["dims"] = random.sample(range(-n, n), min(n, random.randint(0, 2))) if n else random.choice([[], [0]])
    elif op in ("expand_as", "view_as", "reshape_as", "type_as"): a["other"] = other
    elif op == "linear":
        last = sh[-1] if sh else 1
        a["weight"] = other
    elif op == "layer_norm": a["normalized_shape"] = sh[-random.randint(1, max(1, n)):] if n and random.random() < 0.8 else [random.choice([2, 3])]
    return op, a
def torch_call(op, a, env):
    T = lambda k: env[a[k]][1] if isinstance(a.get(k), str) and a[k] in env else a.get(k)
    x = env[a["input"]][1] if "input" in a else None
    v = lambda val: float(val) if val in ("-inf", "inf") else val
    if op == "transpose": return x.transpose(a["dim0"], a["dim1"])
    if op == "permute": return x.permute(a["dims"])
    if op == "reshape": return x.reshape(a["shape"])
    if op == "view": return x.view(a["shape"])
    if op == "unsqueeze": return x.unsqueeze(a["dim"])
    if op == "squeeze": return x.squeeze() if a["dim"] is None else x.squeeze(a["dim"])
    if op == "flatten": return x.flatten(a["start_dim"], a["end_dim"])
    if op == "cat": return torch.cat([env[t][1] for t in a["tensors"]], dim=a["dim"])
    if op in ("add", "mul", "div", "sub", "eq", "logical_and"): return getattr(torch, op)(x, T("other"))
    if op == "matmul": return torch.matmul(x, T("other"))
    if op == "bmm": return torch.bmm(x, T("mat2"))
    if op == "softmax": return torch.softmax(x, a["dim"])
    if op in ("sum", "mean"):
        f = getattr(torch, op)
        return f(x) if a["dim"] is None and not a["keepdim"] else f(x, dim=a["dim"] if a["dim"] is not None else [], keepdim=a["keepdim"]) if a["dim"] is not None else f(x, dim=list(range(x.dim())), keepdim=True)
    if op == "max": return tuple(torch.max(x, a["dim"], keepdim=a["keepdim"])) if "dim" in a else torch.max(x)
    if op == "amax": return torch.amax(x, a["dim"], keepdim=a["keepdim"])
    if op == "logsumexp": return torch.logsumexp(x, a["dim"], keepdim=a["keepdim"])
    if op == "vector_norm": return torch.linalg.vector_norm(x, v(a["ord"]), a["dim"], keepdim=a["keepdim"])
    if op == "masked_fill": return x.masked_fill(T("mask"), v(a["value"]))
    if op == "expand": return x.expand(a["size"])
    if op == "repeat": return x.repeat(a["repeats"])
    if op == "repeat_interleave": return torch.repeat_interleave(x, a["repeats"], dim=a["dim"])
    if op == "getitem": return eval("x" + a["index"])
    if op == "select": return x.select(a["dim"], a["index"])
    if op == "narrow": return x.narrow(a["dim"], a["start"], a["length"])
    if op == "split": return torch.split(x, a["split_size"], dim=a["dim"])
    if op == "split_with_sizes": return torch.split(x, a["split_sizes"], dim=a["dim"])
    if op == "chunk": return torch.chunk(x, a["chunks"], dim=a["dim"])
    if op == "tril": return torch.tril(x, a["diagonal"])
    if op == "pad": return torch.nn.functional.pad(x, a["pad"])
    if op == "contiguous": return x.contiguous()
    if op == "bitwise_not": return ~x
    if op == "stack": return torch.stack([env[t][1] for t in a["tensors"]], dim=a["dim"])
    if op == "unbind": return torch.unbind(x, a["dim"])
    if op == "log_softmax": return torch.nn.functional.log_softmax(x, a["dim"])
    if op == "cumsum": return torch.cumsum(x, a["dim"])
    if op == "normalize": return torch.nn.functional.normalize(x, p=a["p"], dim=a["dim"])
    if op == "clamp": return torch.clamp(x, a.get("min"), a.get("max"))
    if op == "pow": return torch.pow(x, T("exponent"))
    if op in ("argmax", "argmin"): return getattr(torch, op)(x, a["dim"], keepdim=a["keepdim"]) if "dim" in a else getattr(torch, op)(x)
    if op == "min": return tuple(torch.min(x, a["dim"], keepdim=a["keepdim"])) if "dim" in a else torch.min(x)
    if op == "flip": return torch.flip(x, a["dims"])
    if op in ("expand_as", "view_as", "reshape_as", "type_as"): return getattr(x, op)(T("other"))
    if op == "ones_like": return torch.ones_like(x)
    if op == "linear": return torch.nn.functional.linear(x, T("weight"))
    if op == "layer_norm": return torch.nn.functional.layer_norm(x, a["normalized_shape"])
bad = 0; skipped = 0
for case in range(count):
    env = {}; tensors = {}
    for i in range(random.randint(1, 3)):
        sh = rshape(); dt = random.choice(["float32"] * 5 + ["float64", "int64", "bool"])
        t = (torch.rand(sh) < 0.5) if dt == "bool" else (torch.randn(sh) * 3).to(DT[dt])
        env[f"x{i}"] = (sh, t); tensors[f"x{i}"] = {"shape": sh, "dtype": dt}
    calls = []; tmismatch = None
    for step in range(random.randint(1, 4)):
        op, a = gen_op(env)
        outs = [f"y{step}"] if op not in ("split", "chunk", "split_with_sizes", "unbind") and not (op in ("max", "min") and "dim" in a) else None
        try:
            r = torch_call(op, a, env)
        except Exception as e:
            terr = type(e).__name__ + ": " + str(e).split("\n")[0][:150]
            r = None
        if isinstance(r, tuple):
            outs = [f"y{step}_{j}" for j in range(len(r))]
        call = {"id": f"c{step}", "op": op, **a}
        if outs is not None: call["outputs"] = outs
        elif r is None: call["outputs"] = [f"y{step}_0"]
        calls.append(call)
        if r is None:
            break
        for o, t in zip(outs, r if isinstance(r, tuple) else [r]):
            env[o] = (list(t.shape), t)
    else:
        terr = None
    spec = {"tensors": tensors, "calls": calls}
    p = subprocess.run([M, "check", "-", "--format", "json"], input=json.dumps(spec), capture_output=True, text=True)
    try: rep = json.loads(p.stdout)
    except Exception: print("NOJSON", json.dumps(spec), p.stderr[:300]); bad += 1; continue
    errs = [d for d in rep["diagnostics"] if d["severity"] == "error"]
    ok_t = terr is None; ok_m = not errs and not rep["input_error"]
    why = None
    if rep["input_error"]:
        why = "input error " + (rep["diagnostics"][0]["message"][:150] if rep["diagnostics"] else "")
    elif ok_t != ok_m:
        why = ("torch ok" if ok_t else "torch: " + terr) + " | mhacheck " + str([(d["code"], d["message"][:120]) for d in errs])
    elif not ok_t:
        # same verdict: the failing call must be the same
        if errs[0]["call"] != calls[-1]["id"]: why = f"error at {errs[0]['call']} vs torch at {calls[-1]['id']}: {terr}"
    else:
        outs = rep["outputs"]
        for name, (sh, t) in env.items():
            if name.startswith("x"): continue
            o = outs.get(name)
            if o is None: why = f"missing output {name}"; break
            if o["shape"] != sh or o["dtype"] != TN.get(t.dtype, str(t.dtype)):
                why = f"{name}: torch {sh} {t.dtype} mhacheck {o['shape']} {o['dtype']}"; break
    if why:
        bad += 1; print("MISMATCH", json.dumps(spec), "|", why)
print("seed", seed, "cases", count, "mismatches", bad)
