"""Probe sizes for the symbols of `shape(...)` inputs, and traced sizes read back as symbol expressions.

A symbol such as "B" is traced at a probe size chosen so that it cannot be mistaken for a size the
model has anyway: a prime of at least 11 that is none of the model's constants (parameter and
buffer sizes, integer attributes of its modules, the concrete dims of its inputs, their exact
quotients, powers of two), is not next to one or to twice one, nor next to a multiple of 8, 10 or
12, and does not divide a constant with a quotient up to 64 (so 43, 53, 67, ... for most models).
A traced size is then written as "B", "8*B", "T+1" or "T-1" when exactly one such reading exists;
otherwise it stays a number, and when several readings exist (or only a product of symbols, which
the spec cannot express) the caller is told why.
"""

_MAX_OFFSET = 1
_MAX_COEFF = 4096


def _is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def _round_neighbour(p):
    """p-1 or p+1 is a size models like: a multiple of 8, 10 or 12 (head dims, head counts)."""
    return any(n % 8 == 0 or n % 10 == 0 or n % 12 == 0 for n in (p - 1, p + 1))


def _clashes(p, constants, probes):
    if p in constants or _round_neighbour(p):
        return True
    for v in constants:
        if v <= 0:
            continue
        if abs(v - p) <= _MAX_OFFSET or abs(v - 2 * p) <= _MAX_OFFSET:
            return True
        if v % p == 0 and v // p <= 64:
            return True
    for q in probes:
        # Two probes far apart, and neither a small multiple of the other plus an offset.
        if abs(p - q) <= 2 * _MAX_OFFSET + 1 or abs(p - 2 * q) <= _MAX_OFFSET or abs(q - 2 * p) <= _MAX_OFFSET:
            return True
    return False


def choose_probes(symbols, constants, fixed, start=11):
    """A probe size of at least `start` for each symbol not in `fixed` (name -> size), in order of
    first appearance."""
    sizes = dict(fixed)
    taken = list(fixed.values())
    candidate = start
    for name in symbols:
        if name in sizes:
            continue
        while not _is_prime(candidate) or _clashes(candidate, constants, taken):
            candidate += 1
        sizes[name] = candidate
        taken.append(candidate)
        candidate += 1
    return sizes


class DimNamer:
    """Reads traced sizes back as symbol expressions."""

    def __init__(self, probes, constants):
        # probes: symbol -> probe size (only the symbols the tracer chose sizes for)
        self.probes = dict(probes)
        self.constants = set(constants)

    def readings(self, value):
        """Every way `value` is a probe expression: [("8*B", ...)], texts only."""
        found = []
        for name, p in self.probes.items():
            if value % p == 0 and 1 <= value // p <= _MAX_COEFF:
                c = value // p
                found.append(name if c == 1 else f"{c}*{name}")
            for k in range(1, _MAX_OFFSET + 1):
                if value == p + k:
                    found.append(f"{name}+{k}")
                if value == p - k:
                    found.append(f"{name}-{k}")
        return found

    def products(self, value):
        """Products of two or more probes (times a constant) equal to `value`, as text ("B*T")."""
        names = list(self.probes.items())
        found = []
        for i, (a, pa) in enumerate(names):
            for b, pb in names[i:]:
                if value % (pa * pb) == 0:
                    c = value // (pa * pb)
                    found.append((f"{c}*" if c != 1 else "") + f"{a}*{b}")
        return found

    def name(self, value):
        """(dim, note, product): dim is an int or an expression string; note explains a number
        kept; product is True when the number is a product of symbols."""
        if not self.probes or value in self.constants:
            return value, None, False
        products = self.products(value)
        if products:
            return value, f"{value} is {' or '.join(products)}, a product of symbols a spec cannot write; kept as a number", True
        readings = self.readings(value)
        if len(readings) == 1:
            return readings[0], None, False
        if len(readings) > 1:
            return value, f"{value} could be {' or '.join(readings)}; kept as a number", False
        return value, None, False
