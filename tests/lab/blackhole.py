#!/usr/bin/env python3
"""TCP listener that accepts connections and never sends a byte.

Usage: blackhole.py ADDRESS PORT PIDFILE

Started by tests/lab/up (for mta-sts.blackhole.test), stopped by tests/lab/down
via PIDFILE (SIGTERM). Accepted connections are held open (and read from, so
the client's writes never block) for up to 10 minutes, then closed.
"""
import os
import selectors
import signal
import socket
import sys
import time

HOLD_SECONDS = 600


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: blackhole.py ADDRESS PORT PIDFILE", file=sys.stderr)
        return 2
    address, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((address, port))
    except OSError as e:
        print(f"blackhole: cannot bind {address}:{port}: {e}", file=sys.stderr)
        return 1
    listener.listen(128)
    listener.setblocking(False)

    def stop(_signum, _frame):
        try:
            os.unlink(pidfile)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tmp = f"{pidfile}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, pidfile)
    print(f"blackhole: listening on {address}:{port} (pid {os.getpid()})", file=sys.stderr, flush=True)

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    held = {}  # socket -> accept time
    while True:
        for key, _ in sel.select(timeout=5):
            if key.data is None:
                try:
                    conn, _peer = listener.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                held[conn] = time.monotonic()
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:  # peer closed
                    sel.unregister(conn)
                    held.pop(conn, None)
                    conn.close()
        now = time.monotonic()
        for conn, since in list(held.items()):
            if now - since > HOLD_SECONDS:
                sel.unregister(conn)
                del held[conn]
                conn.close()


if __name__ == "__main__":
    sys.exit(main())
