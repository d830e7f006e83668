"""`mxsec check` and `mxsec scan` against the lab's check cases.

Every case of tests/lab/README.md "Check cases" (Postfix listeners on
127.0.57.x, smtpbad.py's misbehaving peers, the signed, unsigned and bogus
zones) is scanned once with `mxsec scan`; each test then asserts the status
and the reason of one case. Needs MXSEC and LAB_DIR (tests/integration/run
sets both) and the lab's MTAs (tests/lab/mta up). Standard library only.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import read_lab_env  # noqa: E402

MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
CONN_TIMEOUT = 3  # seconds per SMTP session: the silent peer must end in this


def lab_args(env):
    return ["--dns-server", env["LAB_DNS"], "--trust-anchor", env["LAB_TA"], "--ca-file", env["LAB_CA"],
            "--timeout", "3"]


def findings(result):
    return [f"{f['status']}: {f.get('where', '')}: {f['message']} (fix: {f.get('hint', '')})"
            for f in result["findings"]]


@unittest.skipUnless(MXSEC and LAB_DIR, "MXSEC and LAB_DIR must be set (tests/integration/run)")
class CheckLabTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_lab_env(LAB_DIR)
        if "LAB_CHECK_DOMAINS" not in cls.env:
            raise unittest.SkipTest("the lab has no check cases (LAB_CHECK_DOMAINS missing from env)")
        if not cls._port_open("127.0.57.1", 25):
            raise unittest.SkipTest("the lab's MX hosts are not running (tests/lab/mta up)")
        cls.domains = cls.env["LAB_CHECK_DOMAINS"].split(",")
        cls.tmp = tempfile.TemporaryDirectory()
        listing = os.path.join(cls.tmp.name, "domains")
        with open(listing, "w", encoding="utf-8") as f:
            f.write("# the lab's check cases\n\n" + "\n".join(cls.domains) + "\n")
        out = os.path.join(cls.tmp.name, "out.jsonl")
        summary = os.path.join(cls.tmp.name, "summary.json")
        start = time.monotonic()
        proc = subprocess.run([MXSEC, *lab_args(cls.env), "scan", listing, "--concurrency", "8", "--conn-timeout",
                               str(CONN_TIMEOUT), "-o", out, "--summary-json", summary],
                              capture_output=True, text=True, timeout=120, check=False)
        cls.scan_seconds = time.monotonic() - start
        cls.scan = proc
        cls.results = {}
        with open(out, encoding="utf-8") as f:
            for line in f:
                result = json.loads(line)
                cls.results[result["domain"]] = result
        with open(summary, encoding="utf-8") as f:
            cls.summary = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def _port_open(host, port):
        import socket
        try:
            socket.create_connection((host, port), timeout=2).close()
            return True
        except OSError:
            return False

    def case(self, domain, status, *reasons):
        """Asserts the domain's status and that each reason occurs in a finding."""
        r = self.results.get(domain)
        self.assertIsNotNone(r, f"{domain} missing from the scan output; stderr: {self.scan.stderr}")
        text = "\n".join(findings(r))
        self.assertEqual(r["status"], status, f"{domain}:\n{text}")
        for reason in reasons:
            self.assertIn(reason, text, f"{domain}:\n{text}")
        return r

    # ---- the scan itself

    def test_scan_ran_every_case_and_summarised(self):
        self.assertEqual(self.scan.returncode, 0, self.scan.stderr)
        self.assertEqual(sorted(self.results), sorted(self.domains))
        self.assertEqual(self.summary["attempted"], len(self.domains))
        self.assertIn("chk-valid.test", self.summary["mta_sts"]["enforce_domains"])
        self.assertIn("attempted", self.scan.stderr)  # the text summary
        self.assertEqual(sum(self.summary["by_status"].values()), len(self.domains))
        self.assertGreaterEqual(self.summary["dane_valid"], 2)  # chk-dane-ee, chk-dane-ta

    # ---- one test per case

    def test_valid(self):
        r = self.case("chk-valid.test", "success")
        mx = r["mx"][0]
        self.assertEqual(mx["hostname"], "mx.chk-valid.test")
        self.assertEqual(mx["addresses"], ["127.0.57.1"])
        self.assertTrue(mx["starttls"])
        self.assertIn(mx["tls"]["version"], ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(mx["tls"]["tls10_accepted"], False)
        self.assertTrue(mx["certificate"]["pkix_valid"])
        self.assertTrue(mx["certificate"]["matches_hostname"])
        self.assertIn("mx.chk-valid.test", mx["certificate"]["names"])
        self.assertGreater(mx["certificate"]["days_left"], 300)
        self.assertEqual(r["mx_dnssec"], "secure")
        self.assertEqual(r["mta_sts"]["mode"], "enforce")
        self.assertTrue(r["mta_sts"]["valid"])
        self.assertTrue(r["mta_sts"]["mx_ok"])
        self.assertTrue(r["tlsrpt"]["valid"])
        self.assertEqual(r["tlsrpt"]["rua"], ["mailto:tlsrpt@chk-valid.test"])

    def test_expired(self):
        r = self.case("chk-expired.test", "failure", "certificate expired", "renew it")
        self.assertLess(r["mx"][0]["certificate"]["days_left"], 0)
        self.assertFalse(r["mx"][0]["certificate"]["pkix_valid"])

    def test_expiring(self):
        r = self.case("chk-expiring.test", "warning", "certificate expires in")
        self.assertIn(r["mx"][0]["certificate"]["days_left"], (4, 5))

    def test_self_signed(self):
        self.case("chk-selfsigned.test", "failure", "self-signed certificate")

    def test_wrong_name(self):
        r = self.case("chk-wrongname.test", "failure", "not valid for mx.chk-wrongname.test", "mx.other.test")
        self.assertFalse(r["mx"][0]["certificate"]["matches_hostname"])
        self.assertTrue(r["mx"][0]["certificate"]["pkix_valid"])

    def test_no_starttls(self):
        r = self.case("chk-nostarttls.test", "failure", "STARTTLS is not offered")
        self.assertFalse(r["mx"][0]["starttls"])
        self.assertIsNone(r["mx"][0]["tls"])

    def test_old_tls_only(self):
        r = self.case("chk-oldtls.test", "failure", "is negotiated: senders with a TLS 1.2 floor")
        self.assertIn(r["mx"][0]["tls"]["version"], ("TLSv1", "TLSv1.1"))

    def test_legacy_versions_still_accepted(self):
        r = self.case("chk-legacy.test", "warning", "TLS 1.0 and TLS 1.1 still accepted")
        self.assertTrue(r["mx"][0]["tls"]["tls10_accepted"])
        self.assertTrue(r["mx"][0]["tls"]["tls11_accepted"])

    def test_dane_ee(self):
        r = self.case("chk-dane-ee.test", "success")
        dane = r["mx"][0]["dane"]
        self.assertEqual(dane["dnssec"], "secure")
        self.assertTrue(dane["valid"])
        self.assertEqual(dane["matched"], "3 1 1 " + self.env["LAB_CHECK_DANE_EE_SPKI_SHA256"].lower())

    def test_dane_stale_hash(self):
        r = self.case("chk-dane-stale.test", "failure", "does not match the served certificate",
                      "publish the new hash before rotating")
        self.assertFalse(r["mx"][0]["dane"]["valid"])

    def test_dane_ta(self):
        r = self.case("chk-dane-ta.test", "success")
        self.assertTrue(r["mx"][0]["dane"]["valid"])
        self.assertEqual(r["mx"][0]["dane"]["matched"], "2 0 1 " + self.env["LAB_CA_CERT_SHA256"].lower())

    def test_tlsa_in_unsigned_zone_is_ignored(self):
        r = self.case("chk-unsigned.test", "warning", "insecure (unsigned) zone are ignored")
        self.assertEqual(r["mx_dnssec"], "insecure")
        self.assertFalse(r["mx"][0]["dane"]["valid"])

    def test_bogus_zone(self):
        r = self.case("chk-bogus.test", "failure", "DNSSEC-bogus")
        self.assertEqual(r["mx_dnssec"], "bogus")

    def test_null_mx(self):
        r = self.case("chk-nullmx.test", "success", "null MX")
        self.assertTrue(r["null_mx"])
        self.assertEqual(r["mx"], [])

    def test_no_mx_uses_the_domain_address(self):
        r = self.case("chk-nomx.test", "warning", "no MX records")
        self.assertTrue(r["mx"][0]["implicit"])
        self.assertTrue(r["mx"][0]["certificate"]["matches_hostname"])

    def test_unanswering_primary_does_not_decide(self):
        r = self.case("chk-backup.test", "warning", "Connection refused")
        self.assertEqual([m["status"] for m in r["mx"]], ["error", "success"])

    def test_mx_outside_the_mta_sts_policy(self):
        r = self.case("chk-sts-mismatch.test", "failure", "is not in the MTA-STS policy")
        self.assertFalse(r["mx"][0]["policy_match"])
        self.assertFalse(r["mta_sts"]["mx_ok"])

    def test_bad_tlsrpt_record(self):
        r = self.case("chk-badtlsrpt.test", "warning", "neither mailto: nor https:")
        self.assertFalse(r["tlsrpt"]["valid"])

    def test_garbage_banner(self):
        self.case("chk-garbage.test", "error", "not an SMTP reply")

    def test_421_at_ehlo(self):
        self.case("chk-421.test", "error", "421 4.3.2")

    def test_close_after_starttls(self):
        self.case("chk-tlsclose.test", "error", "TLS handshake failed", "connection closed")

    def test_silent_server_times_out(self):
        r = self.case("chk-silent.test", "error", "timed out")
        self.assertLess(r["elapsed_ms"], (CONN_TIMEOUT + 2) * 1000)

    # ---- the check command

    def test_check_exit_codes_and_text(self):
        ok = subprocess.run([MXSEC, *lab_args(self.env), "check", "chk-valid.test"],
                            capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("chk-valid.test: SUCCESS", ok.stdout)
        self.assertNotIn("\x1b[", ok.stdout)  # no colour when stdout is not a terminal
        bad = subprocess.run([MXSEC, *lab_args(self.env), "check", "--json", "chk-valid.test", "chk-expired.test"],
                             capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        usage = subprocess.run([MXSEC, "check", "--port", "0", "chk-valid.test"],
                               capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(usage.returncode, 2)


if __name__ == "__main__":
    unittest.main()
