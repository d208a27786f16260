"""tests/slow_http_server.py — a deliberately slow static HTTP server.

    python3 slow_http_server.py DIR [DELAY [SLOW_DELAY]]

Serves DIR over HTTP/1.0 on 127.0.0.1 (loopback only) at a port the kernel
chooses, and prints that port as its first line of output.  Every response
waits DELAY seconds (default 0.2) before it is sent, so a download takes a
known, measurable time; a path under /slow/ (e.g. /slow/a.bin, served from
DIR/a.bin) waits SLOW_DELAY seconds (default 5) instead, for timeout cases.
Requests are served by a thread each, so concurrent clients overlap here:
any serialisation a test sees is the client's.
"""
import functools
import http.server
import sys
import time


class SlowHandler(http.server.SimpleHTTPRequestHandler):
    delay = 0.2
    slow_delay = 5.0

    def send_head(self):
        if self.path.startswith("/slow/"):
            time.sleep(self.slow_delay)
            self.path = self.path[len("/slow"):]
        else:
            time.sleep(self.delay)
        return super().send_head()

    def log_message(self, format, *args):
        pass                      # quiet: the test reads our stdout


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # clients (50 at once in hook_curl), which then wait 1 s to retry.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass                      # a client that gave up (timeout) is fine


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: slow_http_server.py DIR [DELAY [SLOW_DELAY]]")
    SlowHandler.delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    SlowHandler.slow_delay = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    handler = functools.partial(SlowHandler, directory=sys.argv[1])
    with Server(("127.0.0.1", 0), handler) as httpd:
        print(httpd.server_address[1], flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
