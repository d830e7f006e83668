"""A real Exim (Debian's exim4-daemon-heavy) routing by mxsec's MTA-STS data, in the loopback lab.

tests/lab/exim runs Exim as a queue-only sender (inject with -odq, deliver
with -M, both as root) with the configuration docs/exim.md shows: a router
taking "enforce" domains to a transport with hosts_require_tls,
tls_verify_hosts and tls_verify_cert_hostnames, whose event_action asks
`mxsec serve`'s Exim socket `valid-mx $domain $host` and refuses (do not
connect) MX hosts outside the policy. The mail goes to the lab's "mx" Postfix
(tests/lab/mta). Each test class starts its own `mxsec serve` (free ports,
its own --data-dir, whose LMDB cache the router reads) and differs only in
how the router reads the policy mode of $domain:

  EximLmdbLookupTest  ${lookup{$domain:mode}lmdb{CACHE}}: needs an Exim built
                      with LOOKUP_LMDB, which Debian 12's is not (skips there)
  EximPerlLmdbTest    Exim's embedded Perl reads the same LMDB file with
                      LMDB_File (Debian package liblmdb-file-perl)
  EximSocketTest      ${readsocket{...}{mode $domain\\n}...} (the daemon)

Needs root, MXSEC, LAB_DIR with a running lab and MTAs; tests/integration/run
does all of that. Skips, saying why, when Exim cannot be had (tests/lab/exim
fetch downloads and extracts it). Standard library only.
"""

import os
import sys
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import read_lab_env, free_port, stop_process, wait_until_listening, log_tail  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
EXIM_LAB = os.environ.get("LAB_EXIM") or str(REPO / "tests" / "lab" / "exim")
MTA = os.environ.get("LAB_MTA") or str(REPO / "tests" / "lab" / "mta")

CACHE_FILE = "mtasts.lmdb"
EXIM_USER = "mail"          # the Exim user of tests/lab/exim's configuration
CMD_TIMEOUT = 60            # seconds for one tests/lab/exim command (deliver: 30 s inside)
DAEMON_START_TIMEOUT = 15
DAEMON_STOP_TIMEOUT = 15
MAILDIR_TIMEOUT = 10        # seconds from Exim's "=>" until the mx Postfix has written the file
SENDER = "lab-tester@sender.lab.test"


def run(*args, timeout=CMD_TIMEOUT):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


_exim_unavailable = None


def exim_unavailable():
    """Why the Exim lab cannot run here, or None (computed once)."""
    global _exim_unavailable
    if _exim_unavailable is None:
        _exim_unavailable = _why_exim_unavailable() or ""
    return _exim_unavailable or None


def _why_exim_unavailable():
    if not MXSEC or not LAB_DIR:
        return "set MXSEC and LAB_DIR, or use tests/integration/run"
    if os.geteuid() != 0:
        return "the Exim lab needs root"
    if not os.access(EXIM_LAB, os.X_OK):
        return f"{EXIM_LAB} is missing"
    if not os.path.isfile(os.path.join(LAB_DIR, "env")):
        return f"no lab in LAB_DIR={LAB_DIR!r} (tests/lab/up)"
    # Downloads and extracts Debian's exim4-daemon-heavy once (cached in LAB_DIR).
    fetch = run(EXIM_LAB, LAB_DIR, "fetch", timeout=300)
    if fetch.returncode != 0:
        return "Exim is not available: " + (fetch.stderr.strip() or fetch.stdout.strip())
    check = run(EXIM_LAB, LAB_DIR, "check")
    if check.returncode != 0:
        return "Exim cannot run here: " + (check.stdout.strip() or check.stderr.strip())
    status = run(MTA, LAB_DIR, "status")
    if status.returncode != 0 or not re.search(r"^postfix mx:\s+up", status.stdout, re.M):
        return f"the lab's mx Postfix does not run (tests/lab/mta {LAB_DIR} up)"
    return None


class EximLabBase:
    """The delivery tests; subclasses set METHOD (tests/lab/exim setup METHOD ...)."""

    METHOD = None
    maxDiff = None
    daemon = None

    @classmethod
    def method_unavailable(cls):
        return None

    @classmethod
    def setUpClass(cls):
        why = exim_unavailable() or cls.method_unavailable()
        if why:
            raise unittest.SkipTest(why)
        cls.lab = read_lab_env(LAB_DIR)
        cls.mail_dir = Path(LAB_DIR) / "mail"
        cls.exim_log = Path(LAB_DIR) / "logs" / "exim-main.log"
        cls.tmp = tempfile.mkdtemp(prefix="mxsec-exim-")
        try:
            cls.start_daemon()
            cls.warm_cache()
            cls.exim("setup", cls.METHOD, f"127.0.0.1:{cls.exim_port}", str(cls.cache))
        except BaseException:
            cls.stop_daemon()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            was_running, rc = cls.stop_daemon()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if not was_running:
            raise AssertionError(f"mxsec serve died during the tests (exit status {rc})")

    # ------------------------------------------------------------ daemon

    @classmethod
    def start_daemon(cls):
        # The Exim user reads the cache and writes its lock file (docs/exim.md):
        # the data directory and, below, both files are group EXIM_USER, group-writable.
        os.chmod(cls.tmp, 0o711)
        data_dir = Path(cls.tmp) / "data"
        data_dir.mkdir()
        shutil.chown(data_dir, group=EXIM_USER)
        os.chmod(data_dir, 0o2770)
        cls.cache = data_dir / CACHE_FILE
        cls.port, cls.exim_port = free_port(), free_port()
        cls.daemon_log_path = Path(cls.tmp) / "serve.log"
        cls.daemon_log = open(cls.daemon_log_path, "wb")
        cmd = [MXSEC, "serve", "--socketmap", f"127.0.0.1:{cls.port}",
               "--exim-socket", f"127.0.0.1:{cls.exim_port}", "--http", f"127.0.0.1:{free_port()}",
               "--dns-server", cls.lab["LAB_DNS"], "--trust-anchor", cls.lab["LAB_TA"],
               "--ca-file", cls.lab["LAB_CA"], "--data-dir", str(data_dir)]
        cls.daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=cls.daemon_log,
                                      stderr=subprocess.STDOUT)
        wait_until_listening(cls.daemon, cls.exim_port, DAEMON_START_TIMEOUT, cls.daemon_log_tail)

    @classmethod
    def stop_daemon(cls):
        proc, cls.daemon = cls.daemon, None
        result = stop_process(proc, DAEMON_STOP_TIMEOUT)
        cls.daemon_log.close()
        return result

    @classmethod
    def daemon_log_tail(cls, n=20):
        return log_tail(cls.daemon_log_path, "mxsec serve log", n)

    @classmethod
    def exim_socket(cls, line):
        with socket.create_connection(("127.0.0.1", cls.exim_port), timeout=15) as s:
            s.sendall(line.encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data.decode()

    @classmethod
    def warm_cache(cls):
        """Has the daemon resolve the test domains, so that the policies are in its LMDB cache."""
        for domain, want in (("mta-enforce.test", "enforce"), ("mta-badmx.test", "enforce"),
                             ("mta-none.test", "none")):
            got = cls.exim_socket(f"mode {domain}\n")
            if got != want:
                raise AssertionError(f"mode {domain}: {got!r}, expected {want!r}{cls.daemon_log_tail()}")
        for path in (cls.cache, Path(f"{cls.cache}-lock")):
            shutil.chown(path, group=EXIM_USER)
            os.chmod(path, 0o660)

    # ------------------------------------------------------------ Exim

    @classmethod
    def exim(cls, *args, check=True):
        proc = run(EXIM_LAB, LAB_DIR, *args)
        if check and proc.returncode != 0:
            raise AssertionError(f"tests/lab/exim {' '.join(args)} failed ({proc.returncode}):"
                                 f"\n{proc.stdout}{proc.stderr}")
        return proc

    def send_and_deliver(self, domain):
        """Queue one message to a fresh user of DOMAIN, run one delivery attempt;
        returns (Exim id, subject, status, log lines of that message)."""
        token = uuid.uuid4().hex[:12]
        subject = f"mxsec exim lab {domain} {token}"
        mid = self.exim("send", SENDER, f"u{token}@{domain}", subject).stdout.strip()
        self.assertRegex(mid, r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{6,}-[0-9A-Za-z]{2,}$")
        self.exim("deliver", mid, check=False)  # its exit status says little; the log says what happened
        out = self.exim("outcome", mid, check=False)
        if out.returncode not in (0, 3):
            self.fail(f"tests/lab/exim outcome {mid} failed: {out.stderr}")
        lines = out.stdout.splitlines()
        return mid, subject, lines[0], lines[1:]

    def delivered(self, domain, subject):
        found = []
        for f in (self.mail_dir / domain / "new").glob("*"):
            text = f.read_text(errors="replace")
            if subject in text:
                found.append(text)
        return found

    def wait_delivered(self, domain, subject):
        deadline = time.monotonic() + MAILDIR_TIMEOUT
        while True:
            found = self.delivered(domain, subject)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def queued(self, mid):
        return re.search(rf"\b{re.escape(mid)}\b", self.exim("queue").stdout) is not None

    def context(self, lines):
        return "\n".join(lines) + self.daemon_log_tail()

    # ------------------------------------------------------------ tests

    def test_enforce_delivered_over_verified_tls(self):
        mid, subject, status, lines = self.send_and_deliver("mta-enforce.test")
        text = self.context(lines)
        self.assertEqual(status, "delivered", text)
        arrow = next(line for line in lines if f" {mid} => " in line)
        self.assertIn(" R=mtasts_enforce T=remote_smtp_mtasts_enforce ", arrow, text)
        self.assertIn(" H=mx.mta-enforce.test [127.0.55.1]", arrow, text)
        self.assertRegex(arrow, r" X=TLS\S+ CV=yes ", text)
        mails = self.wait_delivered("mta-enforce.test", subject)
        self.assertEqual(len(mails), 1, f"expected the message in {self.mail_dir}/mta-enforce.test/new\n{text}")
        # the mx Postfix saw the Exim sender's address and TLS
        self.assertRegex(mails[0], r"from exim-sender\.lab\.test \([^)]*\[127\.0\.56\.2\]\)")
        self.assertIn("using TLS", mails[0])
        self.assertFalse(self.queued(mid), f"{mid} should have left the queue")

    def test_mx_outside_policy_refused(self):
        # policy mx: mx.other.test; the MX is mx.mta-badmx.test (its certificate names it,
        # so only the policy's mx list stops this delivery)
        mid, subject, status, lines = self.send_and_deliver("mta-badmx.test")
        text = self.context(lines)
        self.assertEqual(status, "deferred", text)
        defer = next(line for line in lines if f" {mid} == " in line)
        self.assertIn(" R=mtasts_enforce T=remote_smtp_mtasts_enforce ", defer, text)
        # A non-empty event_action result for tcp:connect: "do not connect" (Exim spec,
        # chapter Events); Exim logs that, not the answer itself, and defers.
        self.assertIn(f"{mid} H=mx.mta-badmx.test [127.0.55.1] Event requests alternate response",
                      "\n".join(lines), f"Exim's log should show the refusal:\n{text}")
        self.assertRegex(defer, r" defer \(-58\)", text)
        self.assertEqual(self.exim_socket("valid-mx mta-badmx.test mx.mta-badmx.test\n"),
                         "do_not_connect:no_match")
        self.assertFalse(any(" => " in line for line in lines), text)
        self.assertTrue(self.queued(mid), f"{mid} should still be queued")
        time.sleep(0.5)
        self.assertEqual(self.delivered("mta-badmx.test", subject), [], "mta-badmx.test must not get the message")

    def test_no_policy_delivered(self):
        mid, subject, status, lines = self.send_and_deliver("mta-none.test")
        text = self.context(lines)
        self.assertEqual(status, "delivered", text)
        arrow = next(line for line in lines if f" {mid} => " in line)
        self.assertIn(" R=dnslookup T=remote_smtp ", arrow, text)
        self.assertIn(" H=mx.mta-none.test [127.0.55.1]", arrow, text)
        self.assertEqual(len(self.wait_delivered("mta-none.test", subject)), 1,
                         f"expected the message in {self.mail_dir}/mta-none.test/new\n{text}")


class EximLmdbLookupTest(EximLabBase, unittest.TestCase):
    METHOD = "lmdb"

    @classmethod
    def method_unavailable(cls):
        lookups = run(EXIM_LAB, LAB_DIR, "lookups").stdout.split()
        if "lmdb" not in lookups:
            return ("this Exim has no lmdb lookup (Debian 12's exim4-daemon-heavy 4.96 is built without "
                    f"LOOKUP_LMDB); its lookups: {' '.join(lookups)}. EximPerlLmdbTest reads the same "
                    "LMDB file through Exim's Perl")
        return None


class EximPerlLmdbTest(EximLabBase, unittest.TestCase):
    METHOD = "perl"

    @classmethod
    def method_unavailable(cls):
        if subprocess.run(["perl", "-MLMDB_File", "-e", "1"], capture_output=True).returncode != 0:
            return "Perl module LMDB_File missing (Debian package liblmdb-file-perl)"
        return None


class EximSocketTest(EximLabBase, unittest.TestCase):
    METHOD = "socket"


if __name__ == "__main__":
    unittest.main(verbosity=2)
