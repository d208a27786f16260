#!/usr/bin/env python3
"""examples/20_chat_server driven by five clients on 127.0.0.1.

The server listens on a port the kernel picks (it prints it).  Clients:
  talker   sends LINES numbered lines, then a last "talker done" line;
  chatty   sends a few lines of its own between the talker's;
  two listeners, and the talker and chatty themselves, read everything;
  mute     connects with a tiny receive buffer and never reads.
Checks: every reader gets every line of everyone else, in each sender's
order; the mute client is dropped (the server says so, and its socket
ends) while the talker is still sending, so the others were not held up;
SIGINT then ends the server with exit status 0 after it disconnected
everyone, and the readers see EOF.
Argument: the server binary."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

LINES = 6000
LIMIT = 64 * 1024
PAD = "x" * 80
TIMEOUT = 60
SERVERS = []


def fail(msg, log=None):
    print("chat_test: " + msg)
    if log:
        print("---- server output:")
        print("".join(log))
    print("0 passed, 1 failed")
    sys.exit(1)


class Server:
    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "-l", str(LIMIT)],
                                     stdout=subprocess.PIPE, text=True)
        SERVERS.append(self.proc)
        self.log = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.cond:
                self.log.append(line)
                self.cond.notify_all()
        with self.cond:
            self.log.append("<eof>\n")
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=TIMEOUT):
        """The first log line matching pattern (a regex), waiting for it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.log:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.log and self.log[-1] == "<eof>\n"):
                    fail("server never said /%s/" % pattern, self.log)
                self.cond.wait(left)


class Reader:
    """Reads one client's socket to EOF in a thread, keeping every line."""

    def __init__(self, sock):
        self.sock = sock
        self.lines = []
        self.eof = threading.Event()
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        f = self.sock.makefile("r", encoding="utf-8", newline="\n")
        try:
            for line in f:
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        except OSError:
            pass
        self.eof.set()
        with self.cond:
            self.cond.notify_all()

    def wait_lines(self, name, n):
        """Wait until n lines from name have arrived; False on timeout."""
        with self.cond:
            return self.cond.wait_for(lambda: len(self.from_(name)) >= n
                                      or self.eof.is_set(), TIMEOUT) and \
                len(self.from_(name)) >= n

    def from_(self, name):
        prefix = name + ": "
        return [l[len(prefix):] for l in self.lines if l.startswith(prefix)]


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


def main():
    srv = Server(sys.argv[1])
    port = int(srv.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    names = ["talker", "chatty", "listener-1", "listener-2", "mute"]
    socks = {}
    for i, name in enumerate(names, 1):
        socks[name] = connect(port, 2048 if name == "mute" else None)
        srv.wait_for(r"client-%d joined \(%d online\)" % (i, i))
    ids = {name: "client-%d" % i for i, name in enumerate(names, 1)}
    readers = {n: Reader(socks[n]) for n in names if n != "mute"}

    talk = ["%d %s\n" % (i, PAD) for i in range(LINES)] + ["talker done\n"]
    chat = ["chatty %d\n" % i for i in range(20)]
    start = time.monotonic()
    dropped_during = [None]

    # The talker sends in batches of BATCH lines, each once the readers
    # have the one before: they may lag by a batch (far below LIMIT) but
    # never fall behind for real, while the mute client's backlog grows
    # by a batch each time until the server drops it.
    BATCH = 300
    for b in range(0, len(talk), BATCH):
        for i in range(b, min(b + BATCH, len(talk))):
            socks["talker"].sendall(talk[i].encode())
        if b // BATCH < len(chat):
            socks["chatty"].sendall(chat[b // BATCH].encode())
        if dropped_during[0] is None and any(
                "dropped client-5" in l for l in list(srv.log)):
            dropped_during[0] = b
        for name in ["chatty", "listener-1", "listener-2"]:
            if not readers[name].wait_lines(ids["talker"], b + 1):
                fail("%s stopped getting the talker's lines" % name, srv.log)
    sent_chat = chat[:(len(talk) + BATCH - 1) // BATCH]

    # Everyone gets every line of the others, in order.
    for name in ["chatty", "listener-1", "listener-2"]:
        if not readers[name].wait_lines(ids["talker"], len(talk)):
            fail("%s never got the talker's last line" % name, srv.log)
        if readers[name].from_(ids["talker"]) != talk:
            fail("%s got the talker's lines wrong or out of order" % name)
    for name in ["talker", "listener-1", "listener-2"]:
        if not readers[name].wait_lines(ids["chatty"], len(sent_chat)):
            fail("%s did not get all of chatty's lines" % name, srv.log)
        if readers[name].from_(ids["chatty"]) != sent_chat:
            fail("%s got chatty's lines wrong or out of order" % name)
    elapsed = time.monotonic() - start

    m = srv.wait_for(r"dropped client-5: it stopped reading \((\d+) bytes")
    if int(m.group(1)) <= LIMIT:
        fail("client-5 dropped below its limit", srv.log)
    if dropped_during[0] is None or dropped_during[0] >= len(talk) - 1:
        fail("the mute client was not dropped while the talker talked",
             srv.log)
    srv.wait_for(r"client-5 gone \(4 online\)")
    # The mute client's connection is over: reading it ends (EOF or reset).
    socks["mute"].settimeout(TIMEOUT)
    try:
        while socks["mute"].recv(65536):
            pass
    except ConnectionResetError:
        pass

    srv.proc.send_signal(signal.SIGINT)
    try:
        status = srv.proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        fail("SIGINT did not end the server", srv.log)
    srv.wait_for(r"shut down$")
    if status != 0:
        fail("exit status %d after SIGINT" % status, srv.log)
    for name, r in readers.items():
        if not r.eof.wait(TIMEOUT):
            fail("%s saw no EOF after the shutdown" % name, srv.log)
    print("  %d lines to 3 readers in %.2f s; mute client dropped after %d "
          "lines (%s bytes unsent); SIGINT: exit 0"
          % (len(talk), elapsed, dropped_during[0], m.group(1)))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    finally:
        # However the test ends, the server does not outlive it.
        for p in SERVERS:
            if p.poll() is None:
                p.kill()
                p.wait()
