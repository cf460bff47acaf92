"""gen_pytorch_verdicts.py with the operators heldout9 uses that it does not run itself (log_softmax, cumsum,
arange, normalize, stack, clamp, rsqrt, silu, to, linear), run as PyTorch runs them; everything else unchanged.
Usage: python3 tests/corpus/heldout9/gen_verdicts_extra_ops.py --dir tests/corpus/heldout9 --mhacheck BINARY"""
import sys, torch
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gen_pytorch_verdicts as g
orig = g.run_call
def run_call(call, modules, built, env, symbols):
    op = call.get("op")
    t = lambda a: env[call[a]] if isinstance(call.get(a), str) else None
    if op == "log_softmax": return [torch.log_softmax(t("input"), call["dim"])]
    if op == "cumsum": return [torch.cumsum(t("input"), call["dim"])]
    if op == "arange": return [torch.arange(call.get("start", 0), g.size(call["end"], symbols), call.get("step", 1))]
    if op == "normalize": return [torch.nn.functional.normalize(t("input"), p=call.get("p", 2.0), dim=call.get("dim", 1))]
    if op == "stack": return [torch.stack([env[n] for n in call["tensors"]], call.get("dim", 0))]
    if op == "clamp": return [torch.clamp(t("input"), call.get("min"), call.get("max"))]
    if op == "rsqrt": return [torch.rsqrt(t("input"))]
    if op == "silu": return [torch.nn.functional.silu(t("input"))]
    if op == "linear": return [torch.nn.functional.linear(t("input"), t("weight"), t("bias"))]
    if op == "to": return [t("input").to(getattr(torch, call["dtype"].replace("torch.", "")))]
    return orig(call, modules, built, env, symbols)
if __name__ == "__main__":
    g.run_call = run_call
    g.main()
