"""The STARTTLS-Everywhere list in the loopback lab: `mxsec list update` over
HTTPS (the lab's nginx and CA) with lists signed by keys made at test time,
and `mxsec serve` deciding with the list: its own 12-hour updater (run at
start when there is no list), precedence (DANE > MTA-STS > list), an expired
list, and the real Postfix sender delivering by a list decision.

Needs a running lab (tests/lab/up; the Postfix part also tests/lab/mta up)
and LAB_DIR and MXSEC; tests/integration/run does all of that. Standard
library only, plus gpg (Debian package gnupg) to make and use the keys.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import read_lab_env, free_port, stop_process, wait_until_listening, netstring, log_tail  # noqa: E402
import test_postfix_lab as pf  # noqa: E402  (its helpers; as a module, so its tests do not run twice)

MXSEC = os.environ.get("MXSEC", "")
LAB_DIR = os.environ.get("LAB_DIR", "")
# The lab's nginx serves www/enforce.test as https://mta-sts.enforce.test/.
LIST_DIR_LABEL = "enforce.test"
LIST_URL = "https://mta-sts.enforce.test/starttls-everywhere/policy.json"
DAY = 86400


def prerequisites_missing():
    if not LAB_DIR or not os.path.isfile(os.path.join(LAB_DIR, "env")):
        return "set LAB_DIR to a running lab (tests/lab/up) or use tests/integration/run"
    if not MXSEC or not os.access(MXSEC, os.X_OK):
        return "set MXSEC to the mxsec binary"
    if not shutil.which("gpg"):
        return "gpg not installed (Debian package gnupg)"
    return None


class Signer:
    """A throwaway OpenPGP key in its own GNUPGHOME, through the gpg CLI."""

    def __init__(self, uid):
        self.home = tempfile.mkdtemp(prefix="mxsec-gpg-", dir="/tmp")
        self.gpg("--quick-gen-key", uid, "ed25519", "sign", "never")
        colons = self.gpg("--with-colons", "--list-keys").stdout.decode()
        self.fingerprint = re.search(r"^fpr:+([0-9A-F]{40}):", colons, re.M).group(1)

    def gpg(self, *args, data=None):
        return subprocess.run(["gpg", "--batch", "--quiet", "--homedir", self.home, "--pinentry-mode", "loopback",
                               "--passphrase", "", *args], input=data, capture_output=True, check=True, timeout=60)

    def export(self, path):
        Path(path).write_bytes(self.gpg("--armor", "--export", self.fingerprint).stdout)

    def sign(self, data):
        return self.gpg("--armor", "--detach-sign", "--local-user", self.fingerprint, data=data).stdout

    def close(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def make_list(timestamp, expires, policies):
    return json.dumps({"timestamp": int(timestamp), "expires": int(expires), "version": "0.1",
                       "author": "mxsec integration tests", "policy-aliases": {}, "policies": policies},
                      indent=2).encode()


# mta-none.test has no MTA-STS policy, mta-testing.test a testing one, and
# dane-sts.test DANE; their MX hosts are the lab's "mx" Postfix.
LAB_POLICIES = {
    "mta-none.test": {"mode": "enforce", "mxs": [".mta-none.test"]},
    "mta-nostarttls.test": {"mode": "enforce", "mxs": ["mx.mta-nostarttls.test"]},
    "mta-testing.test": {"mode": "enforce", "mxs": ["mx.elsewhere.test"]},
    "dane-sts.test": {"mode": "enforce", "mxs": ["mx.dane-sts.test"]},
    "mta-badmx.test": {"mode": "testing", "mxs": ["mx.mta-badmx.test"]},
}


class ListLab:
    """Shared set-up: the lab env, a signer, and the served directory."""

    @classmethod
    def setup_lab(cls):
        why = prerequisites_missing()
        if why:
            raise unittest.SkipTest(why)
        cls.lab = read_lab_env(LAB_DIR)
        cls.tmp = tempfile.mkdtemp(prefix="mxsec-list-")
        cls.served = Path(LAB_DIR) / "www" / LIST_DIR_LABEL / "starttls-everywhere"
        cls.served.mkdir(parents=True, exist_ok=True)
        # Class cleanups run even when setUpClass fails half-way, unlike
        # tearDownClass: no gpg-agent or key directory is left behind.
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.addClassCleanup(shutil.rmtree, cls.served, ignore_errors=True)
        cls.signer = Signer("mxsec lab list signer <list@lab.test>")
        cls.addClassCleanup(cls.signer.close)
        cls.keyring = os.path.join(cls.tmp, "signer.asc")
        cls.signer.export(cls.keyring)

    @classmethod
    def publish(cls, data, signature=b"", name="policy.json"):
        """Serves DATA (and SIGNATURE, unless empty) at LIST_URL's directory."""
        (cls.served / name).write_bytes(data)
        sig = cls.served / (name + ".asc")
        if signature:
            sig.write_bytes(signature)
        elif sig.exists():
            sig.unlink()

    @classmethod
    def global_args(cls, data_dir):
        return ["--dns-server", cls.lab["LAB_DNS"], "--trust-anchor", cls.lab["LAB_TA"],
                "--ca-file", cls.lab["LAB_CA"], "--data-dir", data_dir]


class ListUpdateLabTest(ListLab, unittest.TestCase):
    """`mxsec list update` against the lab's HTTPS server."""

    @classmethod
    def setUpClass(cls):
        cls.setup_lab()
        cls.other = Signer("someone else <other@lab.test>")
        cls.addClassCleanup(cls.other.close)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="data-", dir=self.tmp)
        self.active = Path(self.data) / "policy-list.json"

    def update(self, *extra):
        cmd = [MXSEC, "list", "update", LIST_URL, "--keyring", self.keyring, "--fingerprint",
               self.signer.fingerprint, "--json", *self.global_args(self.data), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        out = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return proc.returncode, out, proc.stderr

    def install_good(self, timestamp):
        data = make_list(timestamp, time.time() + 7 * DAY, LAB_POLICIES)
        self.publish(data, self.signer.sign(data))
        rc, out, err = self.update()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["result"], "installed", out)
        return data

    def assert_refused(self, pattern, good):
        rc, out, err = self.update()
        self.assertEqual(rc, 1, f"{out} {err}")
        self.assertEqual(out["result"], "refused")
        self.assertRegex(out["message"], pattern)
        self.assertIn("the list in force is unchanged", err)
        self.assertEqual(len(err.strip().splitlines()), 1, f"one line of error: {err}")
        self.assertEqual(self.active.read_bytes(), good, "the list in force must not change")

    def test_installs_a_signed_list_over_https(self):
        now = time.time()
        data = self.install_good(now - 60)
        self.assertEqual(self.active.read_bytes(), data)
        self.assertTrue(Path(str(self.active) + ".asc").exists())
        # Again: already current, exit 0.
        rc, out, err = self.update()
        self.assertEqual((rc, out["result"]), (0, "unchanged"), err)
        # `mxsec policy` now decides mta-none.test by the list.
        proc = subprocess.run([MXSEC, "policy", "mta-none.test", "--json", *self.global_args(self.data)],
                              capture_output=True, text=True, timeout=60)
        answer = json.loads(proc.stdout)
        self.assertEqual((answer["source"], answer["mode"], answer["mx"]),
                         ("policy-list", "enforce", [".mta-none.test"]), proc.stdout + proc.stderr)

    def test_an_altered_list_is_refused(self):
        good = self.install_good(time.time() - 3600)
        data = make_list(time.time() - 60, time.time() + DAY, LAB_POLICIES)
        signature = self.signer.sign(data)
        self.publish(data.replace(b".mta-none.test", b".attacker.test"), signature)
        self.assert_refused(r"signature.*(BAD|bad)", good)

    def test_a_list_signed_by_another_key_is_refused(self):
        good = self.install_good(time.time() - 3600)
        data = make_list(time.time() - 60, time.time() + DAY, LAB_POLICIES)
        self.publish(data, self.other.sign(data))
        self.assert_refused(r"signature", good)

    def test_a_missing_signature_is_refused(self):
        good = self.install_good(time.time() - 3600)
        self.publish(make_list(time.time() - 60, time.time() + DAY, LAB_POLICIES))
        self.assert_refused(r"no signature.*404", good)

    def test_an_older_timestamp_is_refused(self):
        good = self.install_good(time.time() - 60)
        data = make_list(time.time() - 7200, time.time() + 30 * DAY, LAB_POLICIES)
        self.publish(data, self.signer.sign(data))
        self.assert_refused(r"older than the list in force.*rollback", good)

    def test_an_expired_list_is_refused(self):
        good = self.install_good(time.time() - 7200)
        data = make_list(time.time() - 60, time.time() - 1, LAB_POLICIES)
        self.publish(data, self.signer.sign(data))
        self.assert_refused(r"expired on", good)

    def test_without_a_keyring_nothing_is_fetched(self):
        proc = subprocess.run([MXSEC, "list", "update", LIST_URL, *self.global_args(self.data)],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--keyring", proc.stderr)
        self.assertFalse(self.active.exists())


class ListValidateLabTest(unittest.TestCase):
    """`mxsec list validate` against the lab's check cases (tests/lab/mta)."""

    POLICIES = {
        "chk-valid.test": {"mode": "enforce", "mxs": [".chk-valid.test"]},
        "chk-nostarttls.test": {"mode": "enforce", "mxs": [".chk-nostarttls.test"]},
        "chk-wrongname.test": {"mode": "testing", "mxs": ["mx.chk-wrongname.test"]},
        "chk-selfsigned.test": {"mode": "enforce", "mxs": [".chk-selfsigned.test"]},
        "chk-backup.test": {"mode": "enforce", "mxs": ["mx1.chk-backup.test"]},
    }

    @classmethod
    def setUpClass(cls):
        why = prerequisites_missing()
        if why:
            raise unittest.SkipTest(why)
        cls.lab = read_lab_env(LAB_DIR)
        if "LAB_CHECK_DOMAINS" not in cls.lab:
            raise unittest.SkipTest("the lab has no check cases (LAB_CHECK_DOMAINS missing from env)")
        try:
            socket.create_connection(("127.0.57.1", 25), timeout=2).close()
        except OSError:
            raise unittest.SkipTest("the lab's MX hosts are not running (tests/lab/mta up)")
        cls.tmp = tempfile.mkdtemp(prefix="mxsec-validate-")
        cls.list_file = os.path.join(cls.tmp, "list.json")
        Path(cls.list_file).write_bytes(make_list(time.time() - 60, time.time() + 7 * DAY, cls.POLICIES))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def validate(self, domain):
        proc = subprocess.run([MXSEC, "--dns-server", self.lab["LAB_DNS"], "--trust-anchor", self.lab["LAB_TA"],
                               "--ca-file", self.lab["LAB_CA"], "--timeout", "3", "list", "validate", domain,
                               "--file", self.list_file, "--conn-timeout", "3", "--json"],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        return proc.returncode, json.loads(proc.stdout), proc.stderr

    def assert_problem(self, domain, pattern):
        rc, out, err = self.validate(domain)
        self.assertEqual((rc, out["valid"]), (1, False), f"{out} {err}")
        self.assertRegex("\n".join(out["problems"]), pattern)

    def test_a_valid_domain(self):
        rc, out, err = self.validate("chk-valid.test")
        self.assertEqual(rc, 0, f"{out.get('problems')} {err}")
        self.assertTrue(out["valid"])
        self.assertEqual(out["problems"], [])
        mx = out["mx"][0]
        self.assertEqual((mx["hostname"], mx["pattern"], mx["valid"]), ("mx.chk-valid.test", ".chk-valid.test", True))
        self.assertTrue(mx["addresses"][0]["certificate_valid"])
        self.assertEqual(out["check"]["domain"], "chk-valid.test")

    def test_no_starttls(self):
        self.assert_problem("chk-nostarttls.test", r"does not offer STARTTLS")

    def test_a_certificate_for_another_name(self):
        self.assert_problem("chk-wrongname.test", r"does not name mx\.chk-wrongname\.test")

    def test_an_untrusted_certificate(self):
        self.assert_problem("chk-selfsigned.test", r"not trusted")

    def test_every_mx_host_counts(self):
        # The primary does not answer and the backup is outside the entry's mxs.
        self.assert_problem("chk-backup.test", r"mx2\.chk-backup\.test is not covered by the list's mxs")

    def test_an_unlisted_domain(self):
        rc, out, _ = self.validate("chk-expired.test")
        self.assertEqual((rc, out["listed"]), (1, False))


class ListDaemonLabTest(ListLab, unittest.TestCase):
    """`mxsec serve` with the list: updater, precedence, expiry, Postfix."""

    send = pf.PostfixLabTest.send
    outcome = pf.PostfixLabTest.outcome
    delivered = pf.PostfixLabTest.delivered
    wait_delivered = pf.PostfixLabTest.wait_delivered
    queue_entry = pf.PostfixLabTest.queue_entry
    sender_log_tail = pf.PostfixLabTest.sender_log_tail
    assert_sent_verified = pf.PostfixLabTest.assert_sent_verified
    assert_deferred = pf.PostfixLabTest.assert_deferred
    mta = pf.PostfixLabTest.mta

    @classmethod
    def setUpClass(cls):
        cls.setup_lab()
        cls.mail_dir = Path(LAB_DIR) / "mail"
        cls.sender_log = Path(LAB_DIR) / "logs" / "postfix-sender.log"
        cls.daemon = None
        data = make_list(time.time() - 60, time.time() + 7 * DAY, LAB_POLICIES)
        cls.publish(data, cls.signer.sign(data))
        cls.start_daemon()

    @classmethod
    def tearDownClass(cls):
        was_running, rc = stop_process(cls.daemon, 15)
        cls.log.close()
        if not was_running or rc is None:
            raise AssertionError(f"the daemon died or did not stop on SIGTERM (status {rc}){cls.daemon_log_tail()}")

    @classmethod
    def start_daemon(cls):
        cls.data = os.path.join(cls.tmp, "data")
        os.makedirs(cls.data, exist_ok=True)
        cls.port, cls.http = free_port(), free_port()
        cls.config = os.path.join(cls.tmp, "mxsec.yml")
        Path(cls.config).write_text(
            "log_level: info\n"
            "policy_list:\n"
            f"  url: {LIST_URL}\n"
            f"  keyring: {cls.keyring}\n"
            f"  fingerprint: {cls.signer.fingerprint}\n"
            "  refresh: 3600\n", encoding="utf-8")
        cls.log_path = Path(LAB_DIR) / "logs" / "mxsec-serve-policylist.log"
        cls.log = open(cls.log_path, "ab")
        cmd = [MXSEC, "--config", cls.config, "serve", "--socketmap", f"127.0.0.1:{cls.port}",
               "--exim-socket", f"127.0.0.1:{free_port()}", "--http", f"127.0.0.1:{cls.http}",
               *cls.global_args(cls.data)]
        cls.daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(lambda: cls.daemon.poll() is None and cls.daemon.kill())  # if set-up fails
        wait_until_listening(cls.daemon, cls.port, 15, cls.daemon_log_tail)

    @classmethod
    def daemon_log_tail(cls, n=30):
        return log_tail(cls.log_path, "daemon log", n)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def wait_for_list(self, timeout=60):
        """The updater runs within 30 s of a start without a list."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if m.get("mxsec_policy_list_domains", 0) > 0:
                return m
            if time.monotonic() > deadline:
                self.fail(f"no list in force after {timeout} s: {m}{self.daemon_log_tail()}")
            time.sleep(0.5)

    def ask(self, domain, name="postfix"):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(netstring(f"{name} {domain}"))
            reader = pf.NetstringReader(s)
            return reader.read().decode()

    def test_1_the_updater_installs_the_list_and_answers_follow_it(self):
        m = self.wait_for_list()
        self.assertEqual(m['mxsec_policy_list_updates_total{result="installed"}'], 1)
        self.assertEqual(m["mxsec_policy_list_domains"], len(LAB_POLICIES))
        self.assertEqual(m["mxsec_policy_list_expired"], 0)
        self.assertTrue((Path(self.data) / "policy-list.json").exists())
        # No MTA-STS policy: the list decides, patterns as published.
        self.assertEqual(self.ask("mta-none.test"), "OK secure match=.mta-none.test servername=hostname")
        # MTA-STS (testing here) wins over the list's enforce entry.
        self.assertEqual(self.ask("mta-testing.test"), "NOTFOUND ")
        # DANE wins over both.
        self.assertEqual(self.ask("dane-sts.test"), "OK dane-only")
        # A testing entry is not enforced; an unlisted domain has no policy.
        self.assertEqual(self.ask("mta-badmx.test"), "OK secure match=mx.other.test servername=hostname",
                         "mta-badmx.test has an MTA-STS enforce policy: it wins over the list's testing")
        self.assertEqual(self.ask("nopolicy.test"), "NOTFOUND ")
        m = self.metrics()
        self.assertGreaterEqual(m['mxsec_decisions_total{source="policy-list"}'], 1)
        # GET /policy/DOMAIN says which source decided.
        listed = self.decision("mta-none.test")
        self.assertEqual((listed["source"], listed["mode"], listed["mx"]),
                         ("policy-list", "enforce", [".mta-none.test"]), listed)
        self.assertEqual(listed["postfix"], "OK secure match=.mta-none.test servername=hostname")
        self.assertIn("timestamp", listed["policy_list"])
        sts = self.decision("mta-testing.test")
        self.assertIn(sts["source"], ("fetched", "cache"), sts)
        self.assertEqual(sts["mode"], "testing")
        self.assertNotIn("policy_list", sts)
        self.assertTrue(self.decision("dane-sts.test")["dane_only"])
        self.assertEqual(self.decision("nopolicy.test")["source"], "none")
        with self.assertRaises(urllib.error.HTTPError) as bad:
            self.decision("bad..name")
        self.assertEqual(bad.exception.code, 400)

    def decision(self, domain):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/policy/{domain}", timeout=30) as r:
            self.assertEqual(r.headers["Content-Type"], "application/json")
            return json.loads(r.read())

    def test_2_postfix_delivers_by_the_list(self):
        self.wait_for_list()
        status = subprocess.run([pf.MTA, LAB_DIR, "status"], capture_output=True, text=True, timeout=60)
        if not re.search(r"^postfix sender:\s+up", status.stdout, re.M):
            self.skipTest("the lab's MTAs do not run (tests/lab/mta up)")
        self.mta("socketmap", str(self.port))
        self.assert_sent_verified("mta-none.test", "mx.mta-none.test")
        self.assert_deferred("mta-nostarttls.test", [r"TLS is required, but was not offered",
                                                    r"offered no STARTTLS", r"STARTTLS"])

    def test_3_an_expired_list_is_not_applied_and_raises_the_alarm(self):
        self.wait_for_list()
        active = Path(self.data) / "policy-list.json"
        good = active.read_bytes()
        try:
            # As if no update had come for too long: an expired copy in force.
            expired = make_list(time.time() - 10 * DAY, time.time() - 60, LAB_POLICIES)
            tmp = active.with_suffix(".tmp-test")
            tmp.write_bytes(expired)
            tmp.rename(active)
            self.daemon.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while self.metrics()["mxsec_policy_list_expired"] != 1:
                if time.monotonic() > deadline:
                    self.fail(f"mxsec_policy_list_expired is not 1{self.daemon_log_tail()}")
                time.sleep(0.2)
            self.assertEqual(self.ask("mta-none.test"), "NOTFOUND ")
            self.assertRegex(self.log_path.read_text(errors="replace"),
                             r"list expired on .* NOT applied")
        finally:
            tmp = active.with_suffix(".tmp-test")
            tmp.write_bytes(good)
            tmp.rename(active)
            self.daemon.send_signal(signal.SIGHUP)


if __name__ == "__main__":
    unittest.main()
