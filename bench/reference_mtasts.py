#!/usr/bin/env python3
"""Times postfix-mta-sts-resolver's equivalents of the mxsec MTA-STS benchmarks.

Prints one JSON object: {"name": nanoseconds_per_operation, ...}. The same
inputs as bench/bench_mtasts.cc. The reference has no MX matcher (Postfix
matches); its cached lookup is SqliteCache.get on 10,000 domains, awaited on
one asyncio loop as its daemon does per request.
"""
import asyncio
import json
import os
import sys
import tempfile
import time

from postfix_mta_sts_resolver import utils
from postfix_mta_sts_resolver.base_cache import CacheEntry
from postfix_mta_sts_resolver.sqlite_cache import SqliteCache

RECORD = "v=STSv1; id=20160831085700Z;"
POLICY = ("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
          "mx: *.backup.example.net\r\nmax_age: 604800\r\n")


def per_op(fn, seconds=1.0):
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            fn()
        n += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed * 1e9 / n


async def cached_lookup(seconds=1.5):
    with tempfile.TemporaryDirectory() as tmp:
        cache = SqliteCache(os.path.join(tmp, "cache.db"))
        await cache.setup()
        policy = utils.parse_mta_sts_policy(POLICY)
        for i in range(10000):
            await cache.set(f"domain{i}.example", CacheEntry(time.time(), "20160831085700Z", policy))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(200):
                entry = await cache.get(f"domain{n % 10000}.example")
                assert entry is not None
                n += 1
        elapsed = time.perf_counter() - start
        await cache.teardown()
        return elapsed * 1e9 / n


def main():
    out = {
        "BM_ParseRecord": per_op(lambda: utils.parse_mta_sts_record(RECORD)),
        "BM_ParsePolicy": per_op(lambda: utils.parse_mta_sts_policy(POLICY)),
        "CacheFixture/BM_CachedLookup": asyncio.run(cached_lookup()),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
