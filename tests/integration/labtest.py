"""Helpers shared by the integration tests (standard library only)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def read_lab_env(lab_dir):
    """The KEY=VALUE lines of LAB_DIR/env (written by tests/lab/up) as a dict."""
    env = {}
    with open(os.path.join(lab_dir, "env"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def netstring(data):
    """LEN:DATA, for bytes or text (text is encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode()
    return str(len(data)).encode() + b":" + data + b","


def wait_until_listening(proc, port, timeout, describe):
    """Waits until 127.0.0.1:PORT accepts connections. Raises RuntimeError if
    PROC exits first or TIMEOUT seconds pass; describe() adds context (a log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with status {proc.returncode}{describe()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon does not accept connections on 127.0.0.1:{port} "
                                   f"after {timeout} s{describe()}")
            time.sleep(0.1)


def stop_process(proc, timeout):
    """SIGTERM, then wait up to TIMEOUT seconds (then kill). Returns (was it
    still running, exit status, or None if it had to be killed)."""
    if proc is None:
        return True, 0
    was_running = proc.poll() is None
    rc = proc.returncode
    if was_running:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
    return was_running, rc


def log_tail(path, title, n=30):
    """The last N lines of a log file, framed for a test failure message ("" when unreadable)."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return f"\n--- {title} (last lines) ---\n" + "\n".join(lines[-n:]) + "\n---"
