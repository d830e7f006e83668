#!/usr/bin/env python3
"""Misbehaving SMTP servers for the check cases of the lab (mxsec check).

Usage: smtpbad.py PIDFILE MODE@ADDRESS:PORT [MODE@ADDRESS:PORT ...]

Modes:
  garbage   on connect: b"\\x16\\x03\\x01garbage\\xff\\r\\n" (no 220), then the
            connection is held open and never read from
  421       "220 <host> ESMTP", EHLO/HELO -> "421 4.3.2 Service shutting down", close
  tlsclose  "220 <host> ESMTP", EHLO -> 250 PIPELINING STARTTLS,
            STARTTLS -> "220 2.0.0 Ready to start TLS", then close
  silent    accepts the TCP connection and never sends a byte

<host> is mx.chk-<mode>.test. Started by tests/lab/mta up, stopped (SIGTERM
via PIDFILE) by tests/lab/mta down and tests/lab/down. One process, one epoll
loop: any number of concurrent connections (up to the file descriptor limit,
raised to its hard limit). Held connections (garbage, silent) are closed when
the client closes its side (EPOLLRDHUP, no read needed) or after 10 minutes;
conversations (421, tlsclose) after 60 s of client silence. Client
misbehaviour (resets, overlong lines, binary data) only ends that connection.
"""
import errno
import os
import resource
import select
import signal
import socket
import sys
import time

HOLD_SECONDS = 600      # garbage, silent
IDLE_SECONDS = 60       # 421, tlsclose: no complete command for this long
MAX_LINE = 4096
MODES = ("garbage", "421", "tlsclose", "silent")

GARBAGE = b"\x16\x03\x01garbage\xff\r\n"


def log(msg: str) -> None:
    print(f"smtpbad: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class Conn:
    __slots__ = ("sock", "mode", "host", "peer", "inbuf", "outbuf", "close_after", "deadline", "reading")

    def __init__(self, sock, mode, host, peer):
        self.sock = sock
        self.mode = mode
        self.host = host
        self.peer = peer
        self.inbuf = b""
        self.outbuf = b""
        self.close_after = False   # close once outbuf is flushed
        self.reading = mode in ("421", "tlsclose")
        self.deadline = time.monotonic() + (IDLE_SECONDS if self.reading else HOLD_SECONDS)


class Server:
    def __init__(self):
        self.ep = select.epoll()
        self.listeners = {}   # fd -> (socket, mode, host)
        self.conns = {}       # fd -> Conn

    def listen(self, mode, address, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        s.listen(1024)
        s.setblocking(False)
        self.listeners[s.fileno()] = (s, mode, f"mx.chk-{mode}.test")
        self.ep.register(s.fileno(), select.EPOLLIN)

    def events_of(self, c):
        ev = select.EPOLLRDHUP
        if c.reading:
            ev |= select.EPOLLIN
        if c.outbuf:
            ev |= select.EPOLLOUT
        return ev

    def accept(self, fd):
        s, mode, host = self.listeners[fd]
        for _ in range(64):
            try:
                sock, peer = s.accept()
            except BlockingIOError:
                return
            except OSError as e:   # EMFILE, ECONNABORTED, ...
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    log(f"{mode}: accept: {e} ({len(self.conns)} connections open)")
                return
            sock.setblocking(False)
            c = Conn(sock, mode, host, f"{peer[0]}:{peer[1]}")
            if mode == "garbage":
                c.outbuf = GARBAGE
            elif mode in ("421", "tlsclose"):
                c.outbuf = f"220 {host} ESMTP\r\n".encode()
            self.conns[sock.fileno()] = c
            self.ep.register(sock.fileno(), self.events_of(c))
            self.flush(c)

    def close(self, c):
        fd = c.sock.fileno()
        if fd in self.conns:
            del self.conns[fd]
            try:
                self.ep.unregister(fd)
            except OSError:
                pass
        try:
            c.sock.close()
        except OSError:
            pass

    def update(self, c):
        fd = c.sock.fileno()
        if fd in self.conns:
            try:
                self.ep.modify(fd, self.events_of(c))
            except OSError:
                self.close(c)

    def flush(self, c):
        while c.outbuf:
            try:
                n = c.sock.send(c.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close(c)
                return
            c.outbuf = c.outbuf[n:]
        if not c.outbuf and c.close_after:
            self.close(c)
            return
        self.update(c)

    def reply(self, c, text, close=False):
        c.outbuf += text.encode()
        if close:
            c.close_after = True
            c.reading = False
        self.flush(c)

    def command(self, c, line):
        verb = line.split(b" ", 1)[0].strip().upper()
        if verb == b"QUIT":
            self.reply(c, f"221 2.0.0 {c.host} closing connection\r\n", close=True)
        elif c.mode == "421":
            if verb in (b"EHLO", b"HELO"):
                self.reply(c, "421 4.3.2 Service shutting down\r\n", close=True)
            else:
                self.reply(c, "503 5.5.1 Error: send HELO/EHLO first\r\n")
        else:  # tlsclose
            if verb == b"EHLO":
                self.reply(c, f"250-{c.host}\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif verb == b"HELO":
                self.reply(c, f"250 {c.host}\r\n")
            elif verb == b"STARTTLS":
                self.reply(c, "220 2.0.0 Ready to start TLS\r\n", close=True)
            elif verb in (b"NOOP", b"RSET"):
                self.reply(c, "250 2.0.0 Ok\r\n")
            else:
                self.reply(c, "530 5.7.0 Must issue a STARTTLS command first\r\n")

    def readable(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(c)
            return
        if not data:
            self.close(c)
            return
        c.inbuf += data
        c.deadline = time.monotonic() + IDLE_SECONDS
        while c.reading and c.sock.fileno() in self.conns:
            i = c.inbuf.find(b"\n")
            if i < 0:
                if len(c.inbuf) > MAX_LINE:
                    self.reply(c, "500 5.5.2 Error: line too long\r\n", close=True)
                return
            line, c.inbuf = c.inbuf[:i].rstrip(b"\r"), c.inbuf[i + 1:]
            self.command(c, line)

    def run(self):
        while True:
            try:
                events = self.ep.poll(1.0)
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd in self.listeners:
                    self.accept(fd)
                    continue
                c = self.conns.get(fd)
                if c is None:
                    continue
                try:
                    if ev & select.EPOLLOUT:
                        self.flush(c)
                    if fd in self.conns and c.reading and ev & (select.EPOLLIN | select.EPOLLRDHUP):
                        self.readable(c)
                    elif fd in self.conns and ev & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                        # held connections: the client closed (or reset); nothing is read
                        self.close(c)
                except Exception as e:  # never let one connection end the server
                    log(f"{c.mode}: {c.peer}: {type(e).__name__}: {e}")
                    self.close(c)
            now = time.monotonic()
            for c in [c for c in self.conns.values() if now > c.deadline]:
                self.close(c)


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: smtpbad.py PIDFILE MODE@ADDRESS:PORT [...]  (modes: " + " ".join(MODES) + ")",
              file=sys.stderr)
        return 2
    pidfile = sys.argv[1]
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    server = Server()
    for spec in sys.argv[2:]:
        try:
            mode, rest = spec.split("@", 1)
            address, port = rest.rsplit(":", 1)
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}")
            server.listen(mode, address, int(port))
        except (ValueError, OSError) as e:
            print(f"smtpbad: {spec}: {e}", file=sys.stderr)
            return 1

    def stop(_signum, _frame):
        try:
            os.unlink(pidfile)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    tmp = f"{pidfile}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, pidfile)
    log(f"listening: {' '.join(sys.argv[2:])} (pid {os.getpid()})")
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
