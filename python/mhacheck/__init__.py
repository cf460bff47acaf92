"""mhacheck for PyTorch models: `trace` a model into a spec with sizes kept symbolic, `check` it.

    import mhacheck, torch
    spec = mhacheck.trace(torch.nn.Transformer(d_model=64, nhead=4, batch_first=True),
                          (mhacheck.shape("B", "S", 64), mhacheck.shape("B", "T", 64)))
    spec.save("transformer.json")
    report = mhacheck.check(spec)
"""
from ._check import check
from ._spec import Shape, Spec, shape
from ._tracer import trace

__all__ = ["Shape", "Spec", "check", "shape", "trace"]
