"""The runner the script tests (install_test.py, ci_examples_test.py) share: each named check
runs once, a failure is printed with its exception and counted, and finish() exits non-zero
when any failed."""
import sys

_passed = _failed = 0


def test(name, function):
    global _passed, _failed
    try:
        function()
    except Exception as error:  # noqa: BLE001 - every failure is reported and counted
        _failed += 1
        print(f"FAIL {name}: {type(error).__name__}: {error}")
    else:
        _passed += 1
        print(f"ok   {name}")


def finish():
    print(f"{_passed} passed, {_failed} failed")
    sys.exit(1 if _failed else 0)
