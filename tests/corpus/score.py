"""Score mhacheck on a held-out set (a directory holding silent.json and correct.json, such as
tests/corpus/heldout2/): silent cases flagged (an error or a warning comes first), first fix right (the
case's want_fix, or one of them when it is a list of equivalent spellings, in the first fix's text,
verified, not suspect, none of never_first), correct configurations with an error or warning (false alarms).
The held-out sets write the wanted fix as want_fix, tests/corpus/silent.json as first_fix; a case without
one, or with null (no fix can be offered), counts as right when flagged and its first fix, if any, is
none of never_first.

Usage: python3 tests/corpus/score.py DIR [build/mhacheck]"""
import json, os, subprocess, sys, tempfile
if len(sys.argv) < 2: sys.exit(__doc__)
HERE = sys.argv[1]
B = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "mhacheck")
def run(spec):
    with tempfile.NamedTemporaryFile("w",suffix=".json",delete=False) as f: json.dump(spec,f)
    r=subprocess.run([B,"check","--format","json",f.name],capture_output=True,text=True); os.unlink(f.name)
    # exit 0 (no errors) or 1 (errors) with a JSON report; anything else (2: unusable input, a
    # signal, no JSON) counts against the binary, on a correct configuration as a false alarm too.
    try: rep=json.loads(r.stdout)
    except Exception: rep=None
    if rep is None or r.returncode not in (0, 1):
        return {"diagnostics":[],"err":f"exit {r.returncode}: "+(r.stderr[:300] or "no JSON report")}
    return rep
S=json.load(open(os.path.join(HERE, "silent.json"))); C=json.load(open(os.path.join(HERE, "correct.json")))
fl=fr=0
for e in S:
    rep=run(e["spec"]); prim=None
    for sev in ("error","warning"):
        for d in rep["diagnostics"]:
            if d["severity"]==sev: prim=d; break
        if prim: break
    ok=prim is not None; fl+=ok
    fx=(prim.get("fixes") or [None])[0] if prim else None
    desc=fx["description"] if fx else ""
    wanted=e["want_fix"] if "want_fix" in e else e.get("first_fix")
    want=wanted if isinstance(wanted,list) else [wanted]
    never=any(n in desc for n in e.get("never_first",[]))
    if wanted is None: right= ok and not never
    else: right= bool(fx) and any(w in desc for w in want) and fx.get("verified") and fx.get("semantics")!="suspect" and not never
    fr+=right
    print(("OK " if right else ("FLG" if ok else "---")), e["name"].split(": ",1)[-1], "|", prim["code"] if prim else rep.get("err",""), prim["severity"] if prim else "", "|", desc[:150], fx.get("semantics") if fx else "")
fa=0
for e in C:
    rep=run(e["spec"]); bad=[d["code"]+":"+d["message"][:100] for d in rep["diagnostics"] if d["severity"]!="note"]
    if rep.get("err"): bad.append(rep["err"])
    fa+=bool(bad)
    print("C", "FA " if bad else "ok ", e["name"].split(": ",1)[-1], bad)
print(f"flagged {fl}/{len(S)} first fix right {fr}/{len(S)} false alarms {fa}/{len(C)}")
