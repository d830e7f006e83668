"""Faults and operations of `mxsec serve` in the loopback lab.

Starts its own daemon per test class on free ports with a config file, and
uses tests/lab/ctl to take the lab's DNS and HTTPS servers away. Needs MXSEC
and LAB_DIR (tests/integration/run sets both). Standard library only.
"""

import json
import os
import sys
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import read_lab_env, free_port, netstring, stop_process, wait_until_listening  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
CTL = str(REPO / "tests" / "lab" / "ctl")
ENFORCE = "OK secure match=mx.enforce.test:.backup.enforce.test servername=hostname"


def read_netstring(sock):
    data = b""
    while b":" not in data:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed before an answer")
        data += chunk
    length = int(data[:-1])
    body = b""
    while len(body) < length + 1:
        chunk = sock.recv(length + 1 - len(body))
        if not chunk:
            raise ConnectionError("closed inside an answer")
        body += chunk
    return body[:-1].decode()


@unittest.skipUnless(MXSEC and LAB_DIR, "set MXSEC and LAB_DIR, or use tests/integration/run")
class ServeFaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = read_lab_env(LAB_DIR)
        cls.dir = tempfile.mkdtemp(prefix="mxsec-serve-")
        cls.port, cls.exim_port, cls.http_port = free_port(), free_port(), free_port()
        cls.config = os.path.join(cls.dir, "mxsec.yaml")
        cls.write_config(strict_testing=False)
        cls.log = open(os.path.join(cls.dir, "serve.log"), "w+", encoding="utf-8")
        cls.proc = subprocess.Popen(
            [MXSEC, "--config", cls.config, "serve"], stdout=cls.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        try:
            wait_until_listening(cls.proc, cls.port, 15, lambda: "")
        except RuntimeError:
            cls.tearDownClass()
            raise

    @classmethod
    def write_config(cls, strict_testing):
        with open(cls.config, "w", encoding="utf-8") as f:
            f.write(f"""dns_servers: [{cls.lab['LAB_DNS']}]
trust_anchor: {cls.lab['LAB_TA']}
ca_file: {cls.lab['LAB_CA']}
data_dir: {cls.dir}/data
timeout: 2
log_level: info
serve:
  socketmap: 127.0.0.1:{cls.port}
  exim_socket: 127.0.0.1:{cls.exim_port}
  http: 127.0.0.1:{cls.http_port}
  recheck_after: 1
  request_timeout: 2
  idle_timeout: 60
  zones:
    postfix: {{strict_testing: {str(strict_testing).lower()}}}
""")

    @classmethod
    def tearDownClass(cls):
        stop_process(cls.proc, 15)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def log_text(self):
        self.log.flush()
        with open(self.log.name, encoding="utf-8") as f:
            return f.read()

    def ask(self, domain, name="postfix"):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(netstring(f"{name} {domain}"))
            return read_netstring(s)

    def ctl(self, *args):
        subprocess.run([CTL, LAB_DIR, *args], check=True, capture_output=True, timeout=60)

    def keep_answering_until_logged(self, domain, answer, text, timeout=20):
        """Asks for DOMAIN every half second (each ask past recheck_after starts a
        background re-validation), asserting ANSWER every time, until TEXT is logged."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                self.fail(f"{text!r} not logged:\n" + self.log_text()[-3000:])
            self.assertEqual(self.ask(domain), answer)
            time.sleep(0.5)
        self.assertEqual(self.ask(domain), answer)

    def assert_alive(self):
        self.assertIsNone(self.proc.poll(), "daemon died:\n" + self.log_text()[-3000:])

    def test_dns_down_after_caching_still_answers(self):
        self.assertEqual(self.ask("enforce.test"), ENFORCE)
        self.ctl("dns-down")
        self.addCleanup(self.ctl, "dns-up")
        time.sleep(1.5)  # past recheck_after
        # Background re-validations fail once the resolver's cached TXT (TTL 5 s)
        # is gone; the cached policy is served throughout and after.
        self.keep_answering_until_logged("enforce.test", ENFORCE, "MTA-STS enforce.test: dns:")
        self.assert_alive()

    def test_https_down_after_caching_still_answers(self):
        self.assertEqual(self.ask("down.test"),
                         "OK secure match=mx.down.test servername=hostname")
        self.ctl("https-down")
        self.addCleanup(self.ctl, "restore", "down.test")
        self.addCleanup(self.ctl, "https-up")
        self.ctl("set-txt", "down.test", "v=STSv1; id=down9;")  # a new id forces a fetch, which fails
        self.keep_answering_until_logged("down.test", "OK secure match=mx.down.test servername=hostname",
                                         "MTA-STS down.test: connect:")

    def test_slow_client_is_cut_off_and_others_are_answered(self):
        slow = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        start = time.monotonic()
        closed_after = None
        for byte in netstring("postfix enforce.test"):
            try:
                slow.sendall(bytes([byte]))
                self.assertEqual(self.ask("enforce.test"), ENFORCE)  # others are not held up
                time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
            slow.settimeout(0.01)
            try:
                if slow.recv(1) == b"":
                    closed_after = time.monotonic() - start
                    break
            except socket.timeout:
                pass
        slow.close()
        self.assertIsNotNone(closed_after, "a byte a second kept the connection open")
        self.assertLess(closed_after, 6)

    def test_ten_thousand_idle_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 10_300
        if soft < want:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
            except (ValueError, OSError):
                self.skipTest(f"cannot raise the open file limit to {want}")
        idle = []
        try:
            for _ in range(10_000):
                idle.append(socket.create_connection(("127.0.0.1", self.port), timeout=10))
            start = time.monotonic()
            self.assertEqual(self.ask("enforce.test"), ENFORCE)
            self.assertLess(time.monotonic() - start, 2)
        finally:
            for s in idle:
                s.close()
        self.assert_alive()

    def test_metrics_and_health(self):
        self.ask("enforce.test")
        self.ask("notfound.test")
        base = f"http://127.0.0.1:{self.http_port}"
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            self.assertEqual(r.read(), b"ok\n")
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            text = r.read().decode()
        def value(name):
            for line in text.splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
            self.fail(f"{name} missing from /metrics:\n{text}")
        self.assertGreaterEqual(value('mxsec_socketmap_answers_total{answer="secure"}'), 1)
        self.assertGreaterEqual(value('mxsec_fetch_errors_total{result_type="sts-policy-fetch-error"}'), 1)
        self.assertGreaterEqual(value("mxsec_socketmap_latency_seconds_count"), 2)

    def test_exim_socket(self):
        def exim(line):
            with socket.create_connection(("127.0.0.1", self.exim_port), timeout=10) as s:
                s.sendall(line.encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data.decode()
        self.assertEqual(exim("mode enforce.test\n"), "enforce")
        self.assertEqual(exim("valid-mx enforce.test mx.enforce.test\n"), "")
        self.assertEqual(exim("valid-mx enforce.test evil.test\n"), "do_not_connect:no_match")
        self.assertEqual(exim("mx-list enforce.test\n"), "mx.enforce.test:*.backup.enforce.test")
        self.assertEqual(exim("mode nopolicy.test\n"), "none")

    def test_dane_only_when_every_mx_has_secure_tlsa(self):
        # dane-sts.test: enforce policy, one MX host with `TLSA 3 1 1` (RFC 8461 2: DANE first)
        want = subprocess.run(
            f"openssl x509 -in {self.lab['LAB_DIR']}/ca/certs/mx.pem -noout -pubkey"
            " | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r",
            shell=True, check=True, capture_output=True, text=True, timeout=30).stdout.split()[0]
        proc = subprocess.run(
            [MXSEC, "--dns-server", self.lab["LAB_DNS"], "--trust-anchor", self.lab["LAB_TA"],
             "--timeout", "3", "dns", "TLSA", "_25._tcp.mx.dane-sts.test", "--json"],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        tlsa = json.loads(proc.stdout)
        self.assertEqual(tlsa["status"], "ok", proc.stdout)
        self.assertEqual(tlsa["dnssec"], "secure", proc.stdout)
        self.assertEqual(tlsa["records"], [{"usage": 3, "selector": 1, "matching_type": 1, "data": want}])
        self.assertEqual(self.ask("dane-sts.test"), "OK dane-only")

    def test_partial_dane_answers_the_mta_sts_policy(self):
        # partial-dane.test: MX mx1 (with TLSA) and mx2 (without): not DANE-only
        self.assertEqual(self.ask("partial-dane.test"),
                         "OK secure match=mx1.partial-dane.test:mx2.partial-dane.test servername=hostname")

    def test_sighup_reloads_zone_settings(self):
        self.assertEqual(self.ask("testing.test"), "NOTFOUND ")
        self.write_config(strict_testing=True)
        # Cleanups run last-in first-out: restore the file, then reload it.
        self.addCleanup(self.proc.send_signal, signal.SIGHUP)
        self.addCleanup(self.write_config, strict_testing=False)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in self.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.ask("testing.test"),
                         "OK secure match=mx.testing.test servername=hostname")


if __name__ == "__main__":
    unittest.main()
