"""Helpers shared by the integration tests (standard library only)."""

import os
import socket


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
