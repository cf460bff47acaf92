"""gen_pytorch_verdicts.py with the operators heldout10 uses that it does not run itself: heldout9's
(log_softmax, cumsum, arange, normalize, stack, clamp, rsqrt, silu, to, linear) and ones, cos, sin, max,
run as PyTorch runs them; everything else unchanged.
Usage: python3 tests/corpus/heldout10/gen_verdicts_extra_ops.py --dir tests/corpus/heldout10 --mhacheck BINARY"""
import importlib.util
import os
import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("heldout9_extra_ops", os.path.join(here, "..", "heldout9", "gen_verdicts_extra_ops.py"))
heldout9 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heldout9)
g = heldout9.g


def run_call(call, modules, built, env, symbols):
    op = call.get("op")
    t = lambda a: env[call[a]] if isinstance(call.get(a), str) else None
    if op == "ones": return [torch.ones([g.size(d, symbols) for d in call["size"]])]
    if op == "cos": return [torch.cos(t("input"))]
    if op == "sin": return [torch.sin(t("input"))]
    if op == "max": return list(torch.max(t("input"), call["dim"], call.get("keepdim", False))) if call.get("dim") is not None else [torch.max(t("input"))]
    return heldout9.run_call(call, modules, built, env, symbols)


if __name__ == "__main__":
    g.run_call = run_call
    g.main()
