"""gen_pytorch_verdicts.py with the operators heldout12 uses that it does not run itself: heldout10's run_call
(heldout9's log_softmax, cumsum, arange, normalize, stack, clamp, rsqrt, silu, to, linear; then ones, cos, sin,
max) reused as it is, everything else unchanged; no new operator was needed.
Usage: python3 tests/corpus/heldout12/gen_verdicts_extra_ops.py --dir tests/corpus/heldout12 --mhacheck BINARY"""
import importlib.util
import os

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("heldout10_extra_ops", os.path.join(here, "..", "heldout10", "gen_verdicts_extra_ops.py"))
heldout10 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heldout10)


if __name__ == "__main__":
    heldout10.g.run_call = heldout10.run_call
    heldout10.g.main()
