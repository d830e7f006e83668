#!/usr/bin/env python3
"""Times what a Python operator uses today for the STARTTLS-Everywhere policy list.

Prints one JSON object: {"name": nanoseconds_per_operation, ...}, with the
names of the benchmarks in bench/bench_policylist.cc and the same inputs: the
repository's copy of the real list (tests/data/starttls-everywhere/policy.json;
MXSEC_POLICY_LIST overrides it) and its schema 0.1.

 - BM_ListLoad: json.loads of the text (read once) + jsonschema.validate, which
   checks the schema and builds the validator (Draft 7, as the schema's
   $schema says) on every call, as a tool that loads the list once does.
 - BM_ListLoadFromFile: the same plus opening and reading the file (the schema
   is held in memory, as mxsec compiles it in).
 - BM_ListLoad_json_only: json.loads alone, no validation.
 - BM_ListLookup: dict lookup (case folded, a policy-alias resolved) cycling
   through every listed domain each followed by an unlisted one.
 - BM_ListLookupAndMatch: lookup + the schema's MX pattern match for each
   listed domain and a host its first mxs pattern allows.

Without jsonschema (python3-jsonschema) only the json-only load and the
lookups are timed, and stderr says so.
"""
import json
import os
import sys
import time

try:
    import jsonschema
except ImportError:
    jsonschema = None

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "starttls-everywhere")
LIST = os.environ.get("MXSEC_POLICY_LIST") or os.path.join(DATA, "policy.json")
SCHEMA = os.path.join(DATA, "policy-0.1.schema.json")


def per_op(fn, seconds=1.0, batch=1):
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed * 1e9 / n


def per_item(fn, items, seconds=1.0):
    """ns per call of fn(item), cycling through items."""
    n, start = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        n += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed * 1e9 / n


def fold(name):
    return name.lower().rstrip(".")


def matches_mx(pattern, host):
    """The schema's semantics: ".example.com" matches any host below it; otherwise exact."""
    p, h = fold(pattern), fold(host)
    if p.startswith("."):
        return len(h) > len(p) and h.endswith(p)
    return p == h


def main():
    with open(LIST, "rb") as f:
        text = f.read()
    with open(SCHEMA, "rb") as f:
        schema = json.load(f)
    doc = json.loads(text)
    policies, aliases = doc["policies"], doc["policy-aliases"]

    def find(domain):
        policy = policies.get(fold(domain))
        if policy is not None and "policy-alias" in policy:
            policy = aliases[policy["policy-alias"]]
        return policy

    def allows(domain, host):
        policy = find(domain)
        if policy is None:
            return False
        for pattern in policy["mxs"]:
            if matches_mx(pattern, host):
                return True
        return False

    listed = sorted(policies)  # the order of mxsec's std::map
    lookups = []
    for i, domain in enumerate(listed):
        lookups += [domain, f"unlisted-{i}.example"]
    cases = []
    for domain in listed:
        pattern = find(domain)["mxs"][0]
        cases.append((domain, "mx" + pattern if pattern.startswith(".") else pattern))
    assert all(allows(d, h) for d, h in cases)

    out = {}
    if jsonschema is not None:
        jsonschema.validate(doc, schema)  # the list is valid; raises otherwise

        def load():
            jsonschema.validate(json.loads(text), schema)

        def load_from_file():
            with open(LIST, "rb") as f:
                jsonschema.validate(json.load(f), schema)

        out["BM_ListLoad"] = per_op(load)
        out["BM_ListLoadFromFile"] = per_op(load_from_file)
    else:
        print("reference_policylist: jsonschema is not importable (apt-get install python3-jsonschema); "
              "timing json.loads alone, no validated load", file=sys.stderr)
    out["BM_ListLoad_json_only"] = per_op(lambda: json.loads(text), batch=10)
    out["BM_ListLookup"] = per_item(find, lookups)
    out["BM_ListLookupAndMatch"] = per_item(lambda case: allows(*case), cases)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
