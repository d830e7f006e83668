"""MTA-STS integration tests of the mxsec CLI against the loopback lab.

Needs a running lab (tests/lab/up) and two environment variables:
  MXSEC    path to the mxsec binary (e.g. build/mxsec)
  LAB_DIR  the lab directory (holds the `env` file written by tests/lab/up)
tests/integration/run does all of that. Standard library only.

Every test uses a fresh temporary --data-dir. Tests that change the lab
(DNS records, served policies, the second nginx) restore it in cleanups.
"""

import json
import os
import sys
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import read_lab_env  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
CTL = os.environ.get("LAB_CTL") or str(REPO / "tests" / "lab" / "ctl")

CACHE_FILE = "mtasts.lmdb"        # <data-dir>/mtasts.lmdb, MDB_NOSUBDIR
RUN_TIMEOUT = 30                  # seconds, hard limit for any mxsec run
CTL_TIMEOUT = 60                  # seconds, hard limit for any lab change
NO_CACHE_OPTION = "--no-cache"    # an option of the policy command

RECORD_KEYS = {"domain", "source", "mode", "mx", "max_age", "id", "expires", "last_error"}
ERROR_KEYS = {"phase", "result_type", "message"}
FETCH_ERROR = "sts-policy-fetch-error"
POLICY_INVALID = "sts-policy-invalid"
WEBPKI_INVALID = "sts-webpki-invalid"


class Run:
    """Outcome of one subprocess run."""

    def __init__(self, args, proc, elapsed):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.elapsed = elapsed

    def __str__(self):
        return (f"\n$ {' '.join(self.args)}\nexit status: {self.rc} ({self.elapsed:.2f} s)"
                f"\n--- stdout ---\n{self.out}--- stderr ---\n{self.err}--------------")


def decode_mdb_print(s):
    """Decode one mdb_dump -p line (backslash escapes: \\\\ and \\hh)."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if s[i + 1] == "\\":
                out += b"\\"
                i += 2
            else:
                out.append(int(s[i + 1:i + 3], 16))
                i += 3
        else:
            out += c.encode("latin-1")
            i += 1
    return bytes(out)


def parse_mdb_dump(text):
    """mdb_dump -p output -> {key bytes: value bytes} of the main database."""
    lines = text.splitlines()
    try:
        start = lines.index("HEADER=END") + 1
        end = lines.index("DATA=END")
    except ValueError:
        raise AssertionError(f"unexpected mdb_dump output:\n{text}")
    body = lines[start:end]
    if len(body) % 2:
        raise AssertionError(f"odd number of key/value lines in mdb_dump output:\n{text}")
    return {decode_mdb_print(body[i][1:]): decode_mdb_print(body[i + 1][1:])
            for i in range(0, len(body), 2)}


@unittest.skipUnless(MXSEC and LAB_DIR,
                     "set MXSEC (mxsec binary) and LAB_DIR (running lab, see tests/lab/up) "
                     "or use tests/integration/run")
class MtaStsLabTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(MXSEC, os.X_OK):
            raise RuntimeError(f"MXSEC={MXSEC!r} is not an executable file")
        if not os.path.isfile(os.path.join(LAB_DIR, "env")):
            raise RuntimeError(f"no lab in LAB_DIR={LAB_DIR!r} (no env file); run tests/lab/up first")
        cls.lab = read_lab_env(LAB_DIR)

    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="mxsec-it-")
        self.addCleanup(shutil.rmtree, self.data_dir, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def mxsec(self, *args, timeout=3, data_dir=None, global_opts=(), trust_anchor=None):
        """Run mxsec with the lab's resolver/trust anchor/CA; return a Run."""
        cmd = [MXSEC,
               "--dns-server", self.lab["LAB_DNS"],
               "--trust-anchor", trust_anchor or self.lab["LAB_TA"],
               "--ca-file", self.lab["LAB_CA"],
               "--data-dir", data_dir or self.data_dir,
               "--timeout", str(timeout),
               *global_opts, *args]
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"mxsec did not finish within {RUN_TIMEOUT} s: {' '.join(cmd)}")
        run = Run(cmd, proc, time.monotonic() - t0)
        self.assertGreaterEqual(run.rc, 0, f"mxsec was killed by a signal{run}")
        return run

    def policies(self, *domains, policy_opts=(), **kw):
        """`policy DOMAIN... --json`; returns (run, [record, ...]) in output order."""
        run = self.mxsec("policy", *domains, "--json", *policy_opts, **kw)
        lines = [l for l in run.out.splitlines() if l.strip()]
        self.assertEqual(len(lines), len(domains), f"expected one JSON line per domain{run}")
        records = []
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError as e:
                self.fail(f"stdout line is not JSON ({e}): {line!r}{run}")
            self.check_record_shape(rec, run)
            records.append(rec)
        self.assertEqual(sorted(r["domain"] for r in records), sorted(domains), str(run))
        return run, records

    def policy(self, domain, **kw):
        """`policy DOMAIN --json`; returns (run, record)."""
        run, records = self.policies(domain, **kw)
        return run, records[0]

    def check_record_shape(self, rec, run):
        self.assertIsInstance(rec, dict, str(run))
        self.assertTrue(RECORD_KEYS <= rec.keys(), f"missing keys {RECORD_KEYS - rec.keys()}{run}")
        self.assertIn(rec["source"], ("fetched", "cache", "none"), str(run))
        self.assertIn(rec["mode"], ("enforce", "testing", "none", None), str(run))
        self.assertIsInstance(rec["mx"], list, str(run))
        err = rec["last_error"]
        if err is not None:
            self.assertIsInstance(err, dict, str(run))
            self.assertTrue(ERROR_KEYS <= err.keys(), f"last_error lacks {ERROR_KEYS - err.keys()}{run}")
            self.assertIn(err["phase"], ("dns", "record", "connect", "tls", "http", "policy"), str(run))
            self.assertIn(err["result_type"], (FETCH_ERROR, POLICY_INVALID, WEBPKI_INVALID, None), str(run))
            self.assertIsInstance(err["message"], str, str(run))

    def ctl(self, *args):
        try:
            proc = subprocess.run([CTL, LAB_DIR, *args], capture_output=True, text=True,
                                  timeout=CTL_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"tests/lab/ctl {' '.join(args)} did not finish within {CTL_TIMEOUT} s")
        if proc.returncode != 0:
            self.fail(f"tests/lab/ctl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")

    def restore_lab_after(self, *domains):
        """Restore the original TXT and policy of DOMAINs when the test ends."""
        self.addCleanup(self.ctl, "restore", *domains)

    def write_policy_file(self, text):
        fd, path = tempfile.mkstemp(prefix="mxsec-policy-", suffix=".txt")
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def assert_policy(self, run, rec, *, source, mode, mx, max_age, id):
        got = {k: rec[k] for k in ("source", "mode", "mx", "max_age", "id")}
        want = {"source": source, "mode": mode, "mx": mx, "max_age": max_age, "id": id}
        self.assertEqual(got, want, str(run))

    def assert_expires_in(self, run, rec, max_age, slack=60):
        self.assertIsInstance(rec["expires"], int, str(run))
        self.assertLessEqual(abs(rec["expires"] - (time.time() + max_age)), slack, str(run))

    def assert_ok_fetched(self, domain, *, mode, mx, max_age, id):
        run, rec = self.policy(domain)
        self.assertEqual(run.rc, 0, str(run))
        self.assert_policy(run, rec, source="fetched", mode=mode, mx=mx, max_age=max_age, id=id)
        self.assertIsNone(rec["last_error"], str(run))
        self.assert_expires_in(run, rec, max_age)
        return run, rec

    def assert_no_policy_error(self, domain, *, phase, result_type, message_has=(), timeout=3):
        """Fetch fails, nothing cached: source none, exit 1, last_error as given.
        message_has: the message must contain at least one of these (case-insensitive)."""
        run, rec = self.policy(domain, timeout=timeout)
        self.assertEqual(run.rc, 1, str(run))
        self.assertEqual(rec["source"], "none", str(run))
        self.assertIsNone(rec["mode"], str(run))
        err = rec["last_error"]
        self.assertIsNotNone(err, str(run))
        if phase is not None:
            self.assertEqual(err["phase"], phase, str(run))
        self.assertEqual(err["result_type"], result_type, str(run))
        if message_has:
            msg = err["message"].lower()
            self.assertTrue(any(s.lower() in msg for s in message_has),
                            f"last_error.message should mention one of {list(message_has)}{run}")
        return run, rec

    def cache_path(self):
        return os.path.join(self.data_dir, CACHE_FILE)

    # ------------------------------------------------------------ valid policies

    def test_enforce_fetched_then_cached(self):
        mx = ["mx.enforce.test", "*.backup.enforce.test"]
        self.assert_ok_fetched("enforce.test", mode="enforce", mx=mx, max_age=86400, id="enf2026a")
        run, rec = self.policy("enforce.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assert_policy(run, rec, source="cache", mode="enforce", mx=mx, max_age=86400, id="enf2026a")
        self.assertIsNone(rec["last_error"], str(run))
        self.assert_expires_in(run, rec, 86400)

    def test_testing_mode(self):
        self.assert_ok_fetched("testing.test", mode="testing", mx=["mx.testing.test"],
                               max_age=604800, id="tst1")

    def test_none_mode(self):
        self.assert_ok_fetched("none.test", mode="none", mx=[], max_age=86400, id="none1")

    def test_content_type_with_parameters_accepted(self):
        self.assert_ok_fetched("params.test", mode="enforce", mx=["mx.params.test"],
                               max_age=86400, id="par1")

    def test_non_sts_txt_record_ignored(self):
        self.assert_ok_fetched("ignored-record.test", mode="testing", mx=["mx.ignored-record.test"],
                               max_age=86400, id="ok1")

    def test_txt_record_of_two_strings_joined(self):
        self.assert_ok_fetched("split-txt.test", mode="enforce", mx=["mx.split-txt.test"],
                               max_age=86400, id="split1")

    # ------------------------------------------------------------ TXT record problems

    def test_two_sts_records_is_record_error(self):
        run, rec = self.policy("two-records.test")
        self.assertEqual(run.rc, 1, str(run))
        self.assertEqual(rec["source"], "none", str(run))
        self.assertIsNotNone(rec["last_error"], str(run))
        self.assertEqual(rec["last_error"]["phase"], "record", str(run))

    def test_record_without_id_is_record_error(self):
        run, rec = self.policy("no-id.test")
        self.assertEqual(run.rc, 1, str(run))
        self.assertEqual(rec["source"], "none", str(run))
        self.assertIsNotNone(rec["last_error"], str(run))
        self.assertEqual(rec["last_error"]["phase"], "record", str(run))

    def test_no_txt_record_means_no_policy(self):
        run, rec = self.policy("nopolicy.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assertEqual(rec["source"], "none", str(run))
        self.assertIsNone(rec["mode"], str(run))
        self.assertIsNone(rec["last_error"], str(run))

    # ------------------------------------------------------------ HTTP problems

    def test_http_404(self):
        self.assert_no_policy_error("notfound.test", phase="http", result_type=FETCH_ERROR,
                                    message_has=["404"])

    def test_http_redirect_not_followed(self):
        self.assert_no_policy_error("redirect.test", phase="http", result_type=FETCH_ERROR,
                                    message_has=["redirect", "301"])

    def test_http_wrong_content_type(self):
        self.assert_no_policy_error("html.test", phase="http", result_type=FETCH_ERROR,
                                    message_has=["text/html"])

    def test_http_body_over_64k(self):
        self.assert_no_policy_error("big.test", phase="http", result_type=FETCH_ERROR,
                                    message_has=["65536", "64 KiB"])

    def test_http_chunked_body_over_64k(self):
        self.assert_no_policy_error("big-chunked.test", phase="http", result_type=FETCH_ERROR,
                                    message_has=["65536", "64 KiB"])

    # ------------------------------------------------------------ policy syntax

    def test_invalid_mode_is_policy_invalid(self):
        self.assert_no_policy_error("bad-syntax.test", phase="policy", result_type=POLICY_INVALID,
                                    message_has=["line 2", "mode"])

    # ------------------------------------------------------------ TLS problems

    def test_tls_wrong_name(self):
        self.assert_no_policy_error("wrong-name.test", phase="tls", result_type=WEBPKI_INVALID)

    def test_tls_expired_certificate(self):
        self.assert_no_policy_error("expired.test", phase="tls", result_type=WEBPKI_INVALID)

    def test_tls_untrusted_ca(self):
        self.assert_no_policy_error("untrusted.test", phase="tls", result_type=WEBPKI_INVALID)

    # ------------------------------------------------------------ timeouts

    def test_slow_body_hits_total_timeout(self):
        # Headers arrive at once, then 1 byte/s: needs a total deadline, not an idle timeout.
        run, _ = self.assert_no_policy_error("slow.test", phase=None, result_type=FETCH_ERROR,
                                             timeout=2)
        self.assertLess(run.elapsed, 6, str(run))

    def test_server_that_never_answers(self):
        run, _ = self.assert_no_policy_error("blackhole.test", phase=None, result_type=FETCH_ERROR,
                                             timeout=2)
        self.assertLess(run.elapsed, 6, str(run))

    # ------------------------------------------------------------ policy updates and removal

    def test_changed_id_refetches_policy(self):
        self.assert_ok_fetched("changed.test", mode="enforce", mx=["mx1.changed.test"],
                               max_age=86400, id="chg1")
        self.restore_lab_after("changed.test")
        new = self.write_policy_file(
            "version: STSv1\nmode: enforce\nmx: mx2.changed.test\nmax_age: 86400\n")
        self.ctl("set-policy", "changed.test", new)
        self.ctl("set-txt", "changed.test", "v=STSv1; id=chg2;")
        run, rec = self.policy("changed.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assert_policy(run, rec, source="fetched", mode="enforce", mx=["mx2.changed.test"],
                           max_age=86400, id="chg2")

    def test_removed_record_keeps_cached_policy(self):
        self.assert_ok_fetched("removed.test", mode="enforce", mx=["mx.removed.test"],
                               max_age=86400, id="rm1")
        self.restore_lab_after("removed.test")
        self.ctl("remove-txt", "removed.test")
        run, rec = self.policy("removed.test")
        self.assert_policy(run, rec, source="cache", mode="enforce", mx=["mx.removed.test"],
                           max_age=86400, id="rm1")
        self.assertIn("downgrade", run.err.lower(), f"stderr should warn about a possible downgrade{run}")

    def test_removed_record_with_cached_mode_none_drops_policy(self):
        self.assert_ok_fetched("removed-none.test", mode="none", mx=[], max_age=86400, id="rmn1")
        self.restore_lab_after("removed-none.test")
        self.ctl("remove-txt", "removed-none.test")
        for _ in range(2):
            run, rec = self.policy("removed-none.test")
            self.assertEqual(run.rc, 0, str(run))
            self.assertEqual(rec["source"], "none", str(run))
            self.assertIsNone(rec["mode"], str(run))

    def test_unreachable_server_serves_cached_policy(self):
        self.assert_ok_fetched("down.test", mode="enforce", mx=["mx.down.test"],
                               max_age=86400, id="down1")
        self.addCleanup(self.ctl, "https-up")
        self.ctl("https-down")
        # Same id: the cached policy is used, no fetch needed.
        run, rec = self.policy("down.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assert_policy(run, rec, source="cache", mode="enforce", mx=["mx.down.test"],
                           max_age=86400, id="down1")
        self.assertIsNone(rec["last_error"], str(run))
        # New id: a fetch is due and fails; the cached policy is still served.
        self.restore_lab_after("down.test")
        self.ctl("set-txt", "down.test", "v=STSv1; id=down2;")
        run, rec = self.policy("down.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assert_policy(run, rec, source="cache", mode="enforce", mx=["mx.down.test"],
                           max_age=86400, id="down1")
        self.assertIsNotNone(rec["last_error"], str(run))
        self.assertEqual(rec["last_error"]["result_type"], FETCH_ERROR, str(run))
        self.assertEqual(rec["last_error"]["phase"], "connect", str(run))

    # ------------------------------------------------------------ CLI behaviour

    def test_no_cache_fetches_every_time_and_writes_nothing(self):
        for _ in range(2):
            run, rec = self.policy("enforce.test", policy_opts=[NO_CACHE_OPTION])
            self.assertEqual(run.rc, 0, str(run))
            self.assertEqual(rec["source"], "fetched", str(run))
            self.assertEqual(rec["id"], "enf2026a", str(run))
        leftovers = [n for n in os.listdir(self.data_dir) if n.startswith(CACHE_FILE)]
        self.assertEqual(leftovers, [], f"--no-cache left cache files in {self.data_dir}")

    def test_several_domains_one_line_each(self):
        run, records = self.policies("enforce.test", "notfound.test", "nopolicy.test")
        self.assertEqual(run.rc, 1, str(run))
        by_domain = {r["domain"]: r for r in records}
        self.assertEqual(by_domain["enforce.test"]["source"], "fetched", str(run))
        self.assertEqual(by_domain["notfound.test"]["last_error"]["phase"], "http", str(run))
        self.assertIsNone(by_domain["nopolicy.test"]["last_error"], str(run))

    def test_usage_error_exit_status(self):
        run = self.mxsec("policy", "--no-such-option", "enforce.test", "--json")
        self.assertEqual(run.rc, 2, str(run))

    # ------------------------------------------------------------ Exim interface

    def test_exim_answers_from_cache(self):
        run, _ = self.policy("enforce.test")
        self.assertEqual(run.rc, 0, str(run))
        cases = [
            (["mode", "enforce.test"], "enforce"),
            (["valid-mx", "enforce.test", "mx.enforce.test"], ""),
            (["valid-mx", "enforce.test", "a.backup.enforce.test"], ""),
            (["valid-mx", "enforce.test", "evil.test"], "do_not_connect:no_match"),
            (["mx-list", "enforce.test"], "mx.enforce.test:*.backup.enforce.test"),
        ]
        for args, want in cases:
            with self.subTest(exim=args):
                run = self.mxsec("exim", *args)
                self.assertEqual(run.out.strip(), want, str(run))

    def test_cache_is_exim_lmdb_layout(self):
        if not shutil.which("mdb_dump"):
            self.skipTest("mdb_dump not installed (Debian package lmdb-utils)")
        run, _ = self.policy("enforce.test")
        self.assertEqual(run.rc, 0, str(run))
        path = self.cache_path()
        self.assertTrue(os.path.isfile(path), f"no cache file {path}{run}")
        dump = subprocess.run(["mdb_dump", "-n", "-p", path], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)
        self.assertEqual(dump.returncode, 0, f"mdb_dump failed: {dump.stderr}")
        entries = parse_mdb_dump(dump.stdout)
        for key in (b"enforce.test:mode", b"enforce.test:mx", b"enforce.test:expire", b"enforce.test:id"):
            self.assertIn(key, entries, f"cache keys: {sorted(entries)}")
        self.assertEqual(entries[b"enforce.test:mode"], b"enforce")

    def test_corrupt_cache_is_a_clean_error(self):
        path = self.cache_path()
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
        run = self.mxsec("policy", "enforce.test", "--json")
        self.assertIn(run.rc, (1, 2), str(run))
        err_lines = run.err.strip().splitlines()
        self.assertEqual(len(err_lines), 1, f"stderr should be exactly one line{run}")
        self.assertIn(path, err_lines[0], str(run))


    # ------------------------------------------------------------ DNS and DNSSEC

    def wrong_trust_anchor(self):
        """The lab's DS record with a digest that matches no key: every answer is bogus."""
        with open(self.lab["LAB_TA"], encoding="utf-8") as f:
            fields = f.read().split()
        fields[-1] = "0" * len(fields[-1])
        return self.write_policy_file(" ".join(fields) + "\n")

    def dns(self, rtype, name, **kw):
        run = self.mxsec("dns", rtype, name, "--json", **kw)
        try:
            return run, json.loads(run.out)
        except ValueError:
            self.fail(f"dns --json printed no JSON{run}")

    def test_dns_answers_carry_dnssec_status(self):
        run, ans = self.dns("TXT", "_mta-sts.split-txt.test")
        self.assertEqual(run.rc, 0, str(run))
        self.assertEqual((ans["dnssec"], ans["records"]), ("secure", ["v=STSv1; id=split1;"]), str(run))
        run, ans = self.dns("MX", "enforce.test")
        self.assertEqual(ans["records"], [{"preference": 10, "host": "mx.enforce.test"}], str(run))
        self.assertEqual(ans["dnssec"], "secure", str(run))
        # Without a trust anchor the same answer is merely insecure.
        run, ans = self.dns("A", "mx.enforce.test", trust_anchor="/dev/null")
        self.assertEqual((run.rc, ans["dnssec"], ans["records"]), (0, "insecure", ["127.0.55.1"]), str(run))

    def test_dns_not_found_is_distinct_from_failure(self):
        run, ans = self.dns("A", "no-such-name.test")
        self.assertEqual((run.rc, ans["status"]), (1, "not-found"), str(run))
        self.assertIn("NXDOMAIN", ans["error"], str(run))
        run, ans = self.dns("TXT", "_mta-sts.nopolicy.test")
        self.assertEqual(ans["status"], "not-found", str(run))

    def test_dns_bogus_answer(self):
        run, ans = self.dns("A", "mx.enforce.test", trust_anchor=self.wrong_trust_anchor())
        self.assertEqual((run.rc, ans["status"]), (1, "bogus"), str(run))
        self.assertIn("DNSSEC validation failed", ans["error"], str(run))

    def test_bogus_txt_is_a_dns_failure_not_absence(self):
        run, rec = self.policy("enforce.test", trust_anchor=self.wrong_trust_anchor())
        self.assertEqual((run.rc, rec["source"]), (1, "none"), str(run))
        self.assertEqual(rec["last_error"]["phase"], "dns", str(run))
        self.assertIn("DNSSEC validation failed", rec["last_error"]["message"], str(run))

    def test_bogus_txt_never_weakens_cached_policy(self):
        self.assert_ok_fetched("enforce.test", mode="enforce",
                               mx=["mx.enforce.test", "*.backup.enforce.test"], max_age=86400, id="enf2026a")
        run, rec = self.policy("enforce.test", trust_anchor=self.wrong_trust_anchor())
        self.assertEqual(run.rc, 0, str(run))
        self.assertEqual((rec["source"], rec["mode"], rec["id"]), ("cache", "enforce", "enf2026a"), str(run))
        self.assertEqual(rec["last_error"]["phase"], "dns", str(run))

    # ------------------------------------------------------------ sharing and configuration

    def test_concurrent_processes_share_one_cache(self):
        domains = ["enforce.test", "testing.test", "none.test", "params.test",
                   "ignored-record.test", "split-txt.test", "changed.test", "removed.test"]
        base = [MXSEC, "--dns-server", self.lab["LAB_DNS"], "--trust-anchor", self.lab["LAB_TA"],
                "--ca-file", self.lab["LAB_CA"], "--data-dir", self.data_dir, "--timeout", "5"]
        # Every process writes all domains, in a different order, at the same time.
        procs = [subprocess.Popen(base + ["policy", *(domains[i:] + domains[:i]), "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL)
                 for i in range(len(domains))]
        for p in procs:
            out, err = p.communicate(timeout=RUN_TIMEOUT)
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(len(out.splitlines()), len(domains), out + err)
        for domain in domains:
            run, rec = self.policy(domain)
            self.assertEqual((run.rc, rec["source"]), (0, "cache"), str(run))

    def test_config_file_used_and_flags_override_it(self):
        config = self.write_policy_file(
            f"dns_servers: [{self.lab['LAB_DNS']}]\n"
            f"trust_anchor: {self.lab['LAB_TA']}\n"
            f"ca_file: {self.lab['LAB_CA']}\n"
            f"data_dir: {self.data_dir}\n"
            "timeout: 3\n")
        cmd = [MXSEC, "--config", config, "policy", "testing.test", "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["mode"], "testing")
        self.assertTrue(os.path.exists(os.path.join(self.data_dir, CACHE_FILE)))
        # A flag wins over the file: a CA that does not sign the lab's certificates.
        other_ca = os.path.join(LAB_DIR, "untrusted-ca", "ca.pem")
        proc = subprocess.run(cmd[:3] + ["--ca-file", other_ca, "policy", "enforce.test", "--json"],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(json.loads(proc.stdout)["last_error"]["phase"], "tls", proc.stdout)

    def test_bad_config_is_one_line_error(self):
        config = self.write_policy_file("timeout: 3\ndns_server: [127.0.0.1]\n")
        proc = subprocess.run([MXSEC, "--config", config, "policy", "enforce.test"], capture_output=True,
                              text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn(f"{config}:2", proc.stderr)
        self.assertIn("dns_server", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

