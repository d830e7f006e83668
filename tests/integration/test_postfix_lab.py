"""Real Postfix MTAs against an MTA-STS policy daemon, in the loopback lab.

The "sender" Postfix of tests/lab/mta looks up smtp_tls_policy_maps =
socketmap:inet:127.0.0.1:PORT:postfix, served by the daemon under test; the
"mx" Postfix receives with a lab-CA certificate (and without STARTTLS on
127.0.55.2). Needs a running lab with MTAs (tests/lab/up, tests/lab/mta up)
and LAB_DIR; tests/integration/run does all of that. Standard library only.

MTA_STS_DAEMON chooses the daemon:
  mxsec      (default) `$MXSEC serve --socketmap 127.0.0.1:PORT --dns-server ...`
  reference  Debian's postfix-mta-sts-resolver (/usr/bin/mta-sts-daemon), run
             with the lab's resolv.conf (tests/lab/mta exec) and SSL_CERT_FILE
             set to the lab CA.
"""

import json
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
from labtest import read_lab_env, free_port, stop_process, wait_until_listening, netstring, log_tail  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
MTA = os.environ.get("LAB_MTA") or str(REPO / "tests" / "lab" / "mta")
DAEMON_KIND = os.environ.get("MTA_STS_DAEMON", "mxsec")
REFERENCE_DAEMON = "/usr/bin/mta-sts-daemon"

OUTCOME_TIMEOUT = 30      # seconds: a message has a status in the sender's log by then
DAEMON_START_TIMEOUT = 15  # seconds until the daemon accepts connections
DAEMON_STOP_TIMEOUT = 15   # seconds from SIGTERM to exit
SOCKETMAP_TIMEOUT = 15     # seconds for one socketmap answer (a policy fetch included)
MTA_CMD_TIMEOUT = 60
SENDER = "lab-tester@sender.lab.test"


class NetstringReader:
    """Reads netstrings from a socket, keeping what arrives after one."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(4096)
        if not chunk:
            raise EOFError(f"connection closed by the daemon (pending bytes: {self.buf!r})")
        self.buf += chunk

    def read(self):
        while b":" not in self.buf:
            if len(self.buf) > 10:
                raise ValueError(f"not a netstring: {self.buf!r}")
            self._fill()
        head, _, rest = self.buf.partition(b":")
        if not head.isdigit():
            raise ValueError(f"bad netstring length: {self.buf!r}")
        n = int(head)
        while len(rest) < n + 1:
            self._fill()
            head, _, rest = self.buf.partition(b":")
        if rest[n:n + 1] != b",":
            raise ValueError(f"netstring not terminated by a comma: {self.buf!r}")
        self.buf = rest[n + 1:]
        return rest[:n]


def mxsec_has_serve():
    try:
        proc = subprocess.run([MXSEC, "--help"], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(r"^\s+serve\s", proc.stdout + proc.stderr, re.M) is not None


def prerequisites_missing():
    """Why these tests cannot run here, or None."""
    if not LAB_DIR:
        return "set LAB_DIR (running lab with MTAs, see tests/lab/mta) or use tests/integration/run"
    if not os.access(MTA, os.X_OK):
        return f"{MTA} is missing"
    if os.geteuid() != 0:
        return "the Postfix lab needs root"
    for tool in ("postfix", "postqueue", "unshare"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} not installed (Debian packages postfix, util-linux)"
    if not os.path.isfile(os.path.join(LAB_DIR, "env")):
        return f"no lab in LAB_DIR={LAB_DIR!r} (tests/lab/up)"
    status = subprocess.run([MTA, LAB_DIR, "status"], capture_output=True, text=True, timeout=MTA_CMD_TIMEOUT)
    if (status.returncode != 0 or not re.search(r"^postfix mx:\s+up", status.stdout, re.M)
            or not re.search(r"^postfix sender:\s+up", status.stdout, re.M)):
        return f"the lab's MTAs do not run (tests/lab/mta {LAB_DIR} up):\n{status.stdout}{status.stderr}"
    if DAEMON_KIND == "mxsec":
        if not MXSEC or not os.access(MXSEC, os.X_OK):
            return "set MXSEC to the mxsec binary (or MTA_STS_DAEMON=reference)"
        if not mxsec_has_serve():
            return (f"{MXSEC} has no `serve` command yet; "
                    "MTA_STS_DAEMON=reference runs these tests against postfix-mta-sts-resolver")
    elif DAEMON_KIND == "reference":
        if not os.access(REFERENCE_DAEMON, os.X_OK):
            return f"{REFERENCE_DAEMON} not installed (Debian package postfix-mta-sts-resolver)"
    else:
        return f"MTA_STS_DAEMON must be mxsec or reference, not {DAEMON_KIND!r}"
    return None


class PostfixLabTest(unittest.TestCase):
    maxDiff = None
    daemon = None

    @classmethod
    def setUpClass(cls):
        why = prerequisites_missing()
        if why:
            raise unittest.SkipTest(why)
        cls.lab = read_lab_env(LAB_DIR)
        cls.mail_dir = Path(LAB_DIR) / "mail"
        cls.sender_log = Path(LAB_DIR) / "logs" / "postfix-sender.log"
        cls.tmp = tempfile.mkdtemp(prefix="mxsec-pf-")
        cls.port = free_port()
        cls.daemon_log_path = Path(LAB_DIR) / "logs" / f"mta-sts-daemon-{DAEMON_KIND}.log"
        try:
            cls.start_daemon()
            cls.mta("socketmap", str(cls.port))
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
            raise AssertionError(f"the {DAEMON_KIND} daemon died during the tests (exit status {rc})"
                                 f"{cls.daemon_log_tail()}")
        if rc is None:
            raise AssertionError(f"the {DAEMON_KIND} daemon did not exit within {DAEMON_STOP_TIMEOUT} s "
                                 f"of SIGTERM (killed){cls.daemon_log_tail()}")

    # ------------------------------------------------------------ daemon

    @classmethod
    def daemon_command(cls):
        if DAEMON_KIND == "mxsec":
            data_dir = os.path.join(cls.tmp, "data")
            os.mkdir(data_dir)
            # Free ports for the other listeners too: nothing else may hold them.
            return [MXSEC, "serve", "--socketmap", f"127.0.0.1:{cls.port}",
                    "--exim-socket", f"127.0.0.1:{free_port()}", "--http", f"127.0.0.1:{free_port()}",
                    "--dns-server", cls.lab["LAB_DNS"], "--trust-anchor", cls.lab["LAB_TA"],
                    "--ca-file", cls.lab["LAB_CA"], "--data-dir", data_dir], None
        config = os.path.join(cls.tmp, "mta-sts-daemon.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"host: 127.0.0.1\nport: {cls.port}\n"
                    "shutdown_timeout: 1\n"
                    "cache:\n  type: internal\n"
                    "default_zone:\n  strict_testing: false\n  timeout: 4\n")
        # Resolves through libc/c-ares (/etc/resolv.conf: the lab's, in a private
        # mount namespace) and verifies HTTPS with OpenSSL's default store.
        env = dict(os.environ, SSL_CERT_FILE=cls.lab["LAB_CA"])
        return [MTA, LAB_DIR, "exec", REFERENCE_DAEMON, "-c", config, "-v", "info"], env

    @classmethod
    def start_daemon(cls):
        cmd, env = cls.daemon_command()
        cls.daemon_log = open(cls.daemon_log_path, "ab")
        cls.daemon_log.write(f"==== {time.ctime()} {' '.join(cmd)}\n".encode())
        cls.daemon_log.flush()
        # `tests/lab/mta exec` execs, so this pid is the daemon's.
        cls.daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=cls.daemon_log,
                                      stderr=subprocess.STDOUT, env=env)
        wait_until_listening(cls.daemon, cls.port, DAEMON_START_TIMEOUT,
                             lambda: f" ({DAEMON_KIND}){cls.daemon_log_tail()}")

    @classmethod
    def stop_daemon(cls):
        """SIGTERM, then wait. Returns (was it still running, exit status or None
        if it had to be killed)."""
        proc, cls.daemon = cls.daemon, None
        result = stop_process(proc, DAEMON_STOP_TIMEOUT)
        cls.daemon_log.close()
        return result

    @classmethod
    def daemon_log_tail(cls, n=30):
        state = ""
        if cls.daemon is not None and cls.daemon.poll() is not None:
            state = f"\n(the daemon has exited with status {cls.daemon.returncode})"
        return state + log_tail(cls.daemon_log_path, "daemon log", n)

    # ------------------------------------------------------------ lab helpers

    @classmethod
    def mta(cls, *args, check=True):
        proc = subprocess.run([MTA, LAB_DIR, *args], capture_output=True, text=True,
                              timeout=MTA_CMD_TIMEOUT, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"tests/lab/mta {' '.join(args)} failed ({proc.returncode}):"
                                 f"\n{proc.stdout}{proc.stderr}")
        return proc

    def send(self, domain):
        """Inject one message to a fresh user of DOMAIN; returns (queue id, subject)."""
        token = uuid.uuid4().hex[:12]
        subject = f"mxsec lab {domain} {token}"
        qid = self.mta("send", SENDER, f"u{token}@{domain}", subject).stdout.strip()
        self.assertRegex(qid, r"^[0-9A-Za-z]+$")
        return qid, subject

    def outcome(self, qid):
        """Wait for the first status of QID; returns (status, log lines)."""
        deadline = time.monotonic() + OUTCOME_TIMEOUT
        while True:
            proc = self.mta("outcome", qid, check=False)
            if proc.returncode == 0:
                lines = proc.stdout.splitlines()
                return lines[0], lines[1:]
            if proc.returncode != 3:
                self.fail(f"tests/lab/mta outcome {qid} failed ({proc.returncode}): {proc.stderr}")
            if time.monotonic() > deadline:
                self.fail(f"message {qid} has no status after {OUTCOME_TIMEOUT} s"
                          f"{self.sender_log_tail()}{self.daemon_log_tail()}")
            time.sleep(0.3)

    def sender_log_tail(self, n=25):
        return log_tail(self.sender_log, "sender log", n)

    def delivered(self, domain, subject):
        """Messages with SUBJECT in the mx's maildir of DOMAIN (new/)."""
        found = []
        for f in (self.mail_dir / domain / "new").glob("*"):
            text = f.read_text(errors="replace")
            if subject in text:
                found.append(text)
        return found

    def wait_delivered(self, domain, subject, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            found = self.delivered(domain, subject)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def queue_entry(self, qid):
        for line in self.mta("queue").stdout.splitlines():
            if line.strip():
                entry = json.loads(line)
                if entry.get("queue_id") == qid:
                    return entry
        return None

    def assert_sent_verified(self, domain, mx_host):
        qid, subject = self.send(domain)
        status, lines = self.outcome(qid)
        text = "\n".join(lines)
        self.assertEqual(status, "sent", f"{text}{self.daemon_log_tail()}")
        self.assertIn(f"relay={mx_host}[", lines[0])
        self.assertIn(f"Verified TLS connection established to {mx_host}", text)
        mails = self.wait_delivered(domain, subject)
        self.assertEqual(len(mails), 1, f"expected the message in {self.mail_dir / domain}/new\n{text}")
        self.assertIn("using TLS", mails[0], "the mx's Received header should show TLS")

    def assert_sent(self, domain):
        qid, subject = self.send(domain)
        status, lines = self.outcome(qid)
        text = "\n".join(lines)
        self.assertEqual(status, "sent", f"{text}{self.daemon_log_tail()}")
        self.assertNotIn("Verified TLS", text, "no policy applies: the TLS connection is opportunistic")
        self.assertEqual(len(self.wait_delivered(domain, subject)), 1,
                         f"expected the message in {self.mail_dir / domain}/new\n{text}")
        return text

    def assert_deferred(self, domain, reasons):
        """Deferred, with one of REASONS in the log; in the deferred queue; never delivered."""
        qid, subject = self.send(domain)
        status, lines = self.outcome(qid)
        text = "\n".join(lines)
        self.assertEqual(status, "deferred", f"{text}{self.daemon_log_tail()}")
        self.assertTrue(any(re.search(r, text) for r in reasons),
                        f"log lines should match one of {reasons}:\n{text}")
        deadline = time.monotonic() + 5
        while True:
            entry = self.queue_entry(qid)
            if entry and entry.get("queue_name") == "deferred" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertIsNotNone(entry, f"{qid} should still be queued")
        self.assertEqual(entry["queue_name"], "deferred", json.dumps(entry))
        self.assertEqual(self.delivered(domain, subject), [], f"{domain} must not get the message")
        return text, entry

    # ------------------------------------------------------------ delivery through Postfix

    def test_enforce_delivered_over_verified_tls(self):
        self.assert_sent_verified("mta-enforce.test", "mx.mta-enforce.test")

    def test_wildcard_mx_delivered_over_verified_tls(self):
        # policy mx "*.mta-wild.test" -> Postfix match=.mta-wild.test; the MX is mx1.mta-wild.test
        self.assert_sent_verified("mta-wild.test", "mx1.mta-wild.test")

    def test_mx_outside_policy_deferred(self):
        # policy mx: mx.other.test; the MX's certificate names mx.mta-badmx.test
        text, entry = self.assert_deferred(
            "mta-badmx.test", [r"Server certificate not verified", r"not .*match", r"hostname mismatch"])
        self.assertIn("mx.mta-badmx.test", text)

    def test_testing_mode_delivered(self):
        # testing with a non-matching mx: never blocks delivery
        self.assert_sent("mta-testing.test")

    def test_enforce_without_starttls_deferred(self):
        text, entry = self.assert_deferred("mta-nostarttls.test", [r"TLS is required, but was not offered"])
        self.assertIn("TLS is required", entry["recipients"][0]["delay_reason"])

    def test_no_policy_delivered_opportunistically(self):
        text = self.assert_sent("mta-none.test")
        self.assertIn("TLS connection established to mx.mta-none.test", text)

    # ------------------------------------------------------------ socketmap protocol

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=SOCKETMAP_TIMEOUT)
        self.addCleanup(sock.close)
        return sock, NetstringReader(sock)

    def query(self, key, name="postfix"):
        sock, reader = self.connect()
        sock.sendall(netstring(f"{name} {key}".encode()))
        return reader.read().decode()

    def test_socketmap_answers(self):
        cases = [
            ("mta-enforce.test", "OK secure match=mx.mta-enforce.test servername=hostname"),
            ("mta-wild.test", "OK secure match=.mta-wild.test servername=hostname"),
            ("mta-badmx.test", "OK secure match=mx.other.test servername=hostname"),
            ("mta-testing.test", "NOTFOUND "),
            ("mta-none.test", "NOTFOUND "),
        ]
        for key, want in cases:
            with self.subTest(key=key):
                self.assertEqual(self.query(key), want, self.daemon_log_tail())

    def test_socketmap_pipelined_requests_answered_in_order(self):
        sock, reader = self.connect()
        keys = ["mta-none.test", "mta-wild.test", "mta-enforce.test"]
        sock.sendall(b"".join(netstring(f"postfix {k}".encode()) for k in keys))
        answers = [reader.read().decode() for _ in keys]
        self.assertEqual(answers, ["NOTFOUND ",
                                   "OK secure match=.mta-wild.test servername=hostname",
                                   "OK secure match=mx.mta-enforce.test servername=hostname"],
                         self.daemon_log_tail())
        # the connection stays usable
        sock.sendall(netstring(b"postfix mta-testing.test"))
        self.assertEqual(reader.read().decode(), "NOTFOUND ")

    def test_socketmap_malformed_netstring_closes_only_that_connection(self):
        good, good_reader = self.connect()
        good.sendall(netstring(b"postfix mta-enforce.test"))
        self.assertEqual(good_reader.read().decode(),
                         "OK secure match=mx.mta-enforce.test servername=hostname")
        bad, _ = self.connect()
        bad.sendall(b"abc")
        rest = b""
        try:
            while True:
                chunk = bad.recv(4096)
                if not chunk:
                    break
                rest += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            self.fail(f"the daemon kept the connection open after a malformed netstring (got {rest!r})")
        self.assertEqual(rest, b"", "no reply expected to a malformed netstring")
        good.sendall(netstring(b"postfix mta-wild.test"))
        self.assertEqual(good_reader.read().decode(), "OK secure match=.mta-wild.test servername=hostname")
        # and new connections are still served
        self.assertEqual(self.query("mta-none.test"), "NOTFOUND ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
