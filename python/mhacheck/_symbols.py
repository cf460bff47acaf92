"""Probe sizes for the symbols of `shape(...)` inputs, and traced sizes read back as symbol expressions.

A symbol such as "B" is traced at a probe size chosen so that it cannot be mistaken for a size the
model has anyway: a prime of at least 11 that is none of the model's constants (parameter and
buffer sizes, integer attributes of its modules, the concrete dims of its inputs, their exact
quotients, powers of two), is not next to one or to twice one, nor next to a multiple of 8, 10 or
12, does not divide a constant with a quotient up to 64 (so 43, 53, 67, ... for most models), and
whose products with itself and the other probes are not next to a constant or a probe (so that
B*T cannot be mistaken for a size the model has, or for T+1).
A traced size is then written as "B", "8*B", "B*T", "2*B*T", "T+1", "T-1" or "B*T+1" (a monomial
plus or minus 1) when exactly one such reading exists; otherwise it stays a number, and when
several readings exist the caller is told why. The probes are distinct primes, so a multiple of a
product of probes reads one way only: the probes dividing it, each as often as it does ("T*T"),
times the rest ("8*B*T").

A size the model derives from its own constants can still be a multiple of a probe by chance
(HDemucs' 512 + 4 frequency bins are 12 * 43). So the model is also run at a second set of probes,
and a reading is kept only when its value there is among the sizes that run saw (12 * 47 is not).
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


def _near(a, b):
    return abs(a - b) <= _MAX_OFFSET


def _clashes(p, constants, probes):
    if p in constants or _round_neighbour(p):
        return True
    products = [p * q for q in probes + [p]]
    if any(_near(product, v) for product in products for v in list(constants) + probes):
        return True
    if any(_near(p, q * r) for i, q in enumerate(probes) for r in probes[i:]):
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


def second_probes(probes, constants, fixed):
    """Other probe sizes for the same symbols, each the next one above its first probe that
    choose_probes would take (none of them a first probe)."""
    constants = set(constants) | set(probes.values())
    sizes = dict(fixed)
    for name, probe in probes.items():
        sizes[name] = choose_probes([name], constants, sizes, start=probe + 1)[name]
    return {name: sizes[name] for name in probes}


def value_at(dim, sizes):
    """A dim ("8*B", "8*B*T", "T+1", "B*T-1" or an int) at the symbol sizes `sizes`."""
    if isinstance(dim, int):
        return dim
    text, offset = dim, 0
    for sign in ("+", "-"):
        if sign in text:
            text, _, number = text.partition(sign)
            offset = int(number) if sign == "+" else -int(number)
    value = 1
    for factor in text.split("*"):
        value *= int(factor) if factor.isdigit() else sizes[factor]
    return value + offset


class DimNamer:
    """Reads traced sizes back as symbol expressions."""

    def __init__(self, probes, constants, reference=None):
        # probes: symbol -> probe size (only the symbols the tracer chose sizes for)
        self.probes = dict(probes)
        self.constants = set(constants)
        # (the second run's probes, every size it saw), or None: see the module's docstring
        self.reference = reference
        # size -> reading the trace itself established where the second run could not (a
        # reshape that merges B with declared numbers: Tracer._merged_reading), for the call being
        # read: the tracer sets it to what that call's inputs carry (Tracer._reading_scope)
        self.established = {}

    def monomial(self, value):
        """`value` as a constant times a product of probes ("B", "8*B", "B*T", "2*T*T"), the
        factors sorted as mhacheck writes them; None when no probe divides it or the constant is
        above _MAX_COEFF."""
        if value <= 0:
            return None
        factors, rest = [], value
        for name, p in sorted(self.probes.items()):
            while rest % p == 0:
                rest //= p
                factors.append(name)
        if not factors or rest > _MAX_COEFF:
            return None
        text = "*".join(factors)
        return text if rest == 1 else f"{rest}*{text}"

    def readings(self, value):
        """Every way `value` is a probe expression, as text: "8*B", "B*T", "T+1"."""
        monomial = self.monomial(value)
        found = [monomial] if monomial else []
        for k in range(1, _MAX_OFFSET + 1):
            below, above = self.monomial(value - k), self.monomial(value + k)
            found += [f"{below}+{k}"] if below else []
            found += [f"{above}-{k}"] if above else []
        if self.reference is not None:
            probes, seen = self.reference
            found = [reading for reading in found if value_at(reading, probes) in seen]
        return found

    def name(self, value):
        """(dim, note): dim is an int or an expression string; note explains a number kept."""
        if not self.probes or value in self.constants:
            return value, None
        if value in self.established:
            return self.established[value], None
        readings = self.readings(value)
        if len(readings) == 1:
            return readings[0], None
        if len(readings) > 1:
            return value, f"{value} could be {' or '.join(readings)}; kept as a number"
        return value, None
