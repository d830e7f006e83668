#!/usr/bin/env python3
"""Prints the bench/socketmap table from the JSON files of one run.

Usage: socketmap_table.py RUN_DIR (written by bench/socketmap: NAME-{cold,c1,
c16,c16d8}.json from socketmap_load, NAME-rss-{warm,load} in KiB,
NAME-cold-cpu-ms (server CPU during the cold run), NAME-skip,
NAME-stop, ref-cache, ref-version, durations).
"""
import json
import os
import sys

run = sys.argv[1]
NAMES = ("reference", "mxsec", "minimal")


def text(name):
    try:
        with open(os.path.join(run, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def result(name, kind):
    try:
        with open(os.path.join(run, f"{name}-{kind}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(name, kind, field):
    r = result(name, kind)
    return None if r is None else r.get(field)


def rss_mib(name, when):
    t = text(f"{name}-rss-{when}")
    return int(t) / 1024 if t else None


def fmt(v, spec):
    return f"{v:{spec}}" if v is not None else "n/a"


def ratio(a, b):
    return a / b if a is not None and b else None


rows = []  # (label, values per NAME, format, ratio format)
for kind, title in (("c1", "warm, 1 connection"), ("c16", "warm, 16 connections"),
                    ("c16d8", "warm, 16 conn. x 8 pipelined")):
    rows.append((f"{title}: req/s", [num(n, kind, "rps") for n in NAMES], ",.0f"))
    rows.append(("    p50 latency (ms)", [None if num(n, kind, "p50_us") is None else num(n, kind, "p50_us") / 1000
                                          for n in NAMES], ".3f"))
    rows.append(("    p99 latency (ms)", [None if num(n, kind, "p99_us") is None else num(n, kind, "p99_us") / 1000
                                          for n in NAMES], ".3f"))
rows.append(("cold, 50 clients: domains/s", [num(n, "cold", "rps") for n in NAMES], ",.1f"))
rows.append(("    p50 latency (ms)", [None if num(n, "cold", "p50_us") is None else num(n, "cold", "p50_us") / 1000
                                      for n in NAMES], ".1f"))
def cold_cpu_ms(name):
    t = text(f"{name}-cold-cpu-ms")
    n = num(name, "cold", "requests") or 1000
    return None if t is None else float(t) / n


rows.append(("    server CPU per domain (ms)", [cold_cpu_ms(n) for n in NAMES], ".2f"))
rows.append(("RSS after warm-up (MiB)", [rss_mib(n, "warm") for n in NAMES], ".1f"))
rows.append(("RSS after the warm runs (MiB)", [rss_mib(n, "load") for n in NAMES], ".1f"))


def bad(name):
    """errors + mismatches over all runs of NAME, and some samples"""
    errors = mism = 0
    samples = []
    found = False
    for kind in ("cold", "c1", "c16", "c16d8"):
        r = result(name, kind)
        if r is None:
            continue
        found = True
        errors += r["errors"]
        mism += r["mismatches"]
        samples += [f"{kind}: {s}" for s in r.get("samples", [])]
        samples += [f"{kind}: {k} x{v}" for k, v in r.get("error_kinds", {}).items()]
    return (errors, mism, samples) if found else None


durations = (text("durations") or "? ?").split()
print()
print(f"Postfix socketmap: 1,000 domains (700 enforce, 200 testing, 100 none) on loopback, "
      f"{os.cpu_count()} CPUs; warm runs {durations[0]} s each after {durations[1]} s of load")
print(f"reference: postfix-mta-sts-resolver {text('ref-version') or '?'} (mta-sts-daemon, "
      f"{text('ref-cache') or '?'} cache); minimal: constant 'NOTFOUND ' responder (loopback ceiling)")
print()
w = 31
print(f"{'measurement':{w}} {'reference':>12} {'mxsec':>12} {'minimal':>12} {'mxsec/ref':>10} {'mxsec/min':>10}")
print("-" * (w + 61))
for label, vals, spec in rows:
    ref, mx, mn = vals
    cols = " ".join(f"{fmt(v, spec):>12}" for v in vals)
    r1, r2 = ratio(mx, ref), ratio(mx, mn)
    print(f"{label:{w}} {cols} {fmt(r1, '9.2f') + 'x' if r1 is not None else 'n/a':>10} "
          f"{fmt(r2, '9.2f') + 'x' if r2 is not None else 'n/a':>10}")
checks = [bad(n) for n in NAMES]
print(f"{'errors / wrong answers':{w}} " + " ".join(
    f"{(f'{c[0]} / {c[1]}' if c else 'n/a'):>12}" for c in checks) + "   (minimal: answers not checked)")
print("ratios: mxsec / other; > 1 is better for req/s and domains/s, < 1 is better for latency, CPU and RSS")
for n in NAMES:
    if text(f"{n}-skip"):
        print(f"{n}: not measured: {text(n + '-skip')}")
    if text(f"{n}-died"):
        print(f"{n}: {text(n + '-died')}")
    if text(f"{n}-stop"):
        print(f"{n}: {text(n + '-stop')}")
for n, c in zip(NAMES, checks):
    if c and (c[0] or c[1]):
        print(f"{n}: {c[0]} errors, {c[1]} wrong answers, e.g.:")
        for s in c[2][:6]:
            print(f"    {s}")

# ------------------------------------------------------------ targets
print()
print("targets for mxsec serve:")
mx_ok = checks[1] is not None and checks[1][0] == 0 and checks[1][1] == 0


def target(desc, value, ok, detail):
    if text("mxsec-died"):
        verdict = "NOT MET (mxsec serve " + text("mxsec-died").split(" (")[0] + ")"
    elif value is None:
        verdict = "not measured"
    elif not mx_ok:
        verdict = "NOT MET (mxsec had errors or wrong answers)"
    else:
        verdict = "met" if ok else "NOT MET"
    print(f"  {desc:44} {detail if value is not None else '':44} -> {verdict}")


r = ratio(num("mxsec", "c16", "rps"), num("minimal", "c16", "rps"))
target(">= 80% of minimal at 16 connections", r, r is not None and r >= 0.8,
       f"{fmt(r and r * 100, '.0f')}% of the minimal responder")
r = ratio(num("mxsec", "c16d8", "rps"), num("reference", "c16d8", "rps"))
target(">= 12x reference, 16 conn. pipelined 8 deep", r, r is not None and r >= 12, f"{fmt(r, '.1f')}x")
p99 = num("mxsec", "c16", "p99_us")
target("p99 < 0.5 ms at 16 connections", p99, p99 is not None and p99 < 500,
       f"{fmt(p99 and p99 / 1000, '.3f')} ms (minimal: {fmt((num('minimal', 'c16', 'p99_us') or 0) / 1000, '.3f')} ms)")
r = ratio(num("mxsec", "cold", "rps"), num("reference", "cold", "rps"))
target(">= 3x reference, cold resolution", r, r is not None and r >= 3, f"{fmt(r, '.1f')}x")
r = ratio(rss_mib("mxsec", "warm"), rss_mib("reference", "warm"))
target("RSS <= 1/4 of reference", r, r is not None and r <= 0.25, f"{fmt(r and r * 100, '.0f')}% of the reference")
