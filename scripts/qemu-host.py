#!/usr/bin/env python3
"""The host side of the QEMU firmware tests (scripts/qemu-test): an HTTP server with one
deterministic page and a TCP echo server, both on free loopback ports.

    scripts/qemu-host.py --env FILE [--page-len N]

Once both listen it writes FILE: shell assignments of the ports and of the page's length and
CRC-32 (zlib's), which the firmware is built with (BC20_QEMU_* variables). Then it serves
until killed, logging each request and connection to stderr. Standard library only.
"""

import argparse
import http.server
import random
import socket
import socketserver
import sys
import threading
import zlib


def page(length):
    """Binary bytes, every value, the same on every run."""
    return random.Random(20261129).randbytes(length)


class Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        if self.path != "/page":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, fmt, *args):
        sys.stderr.write("http: %s\n" % (fmt % args))


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        total = 0
        while True:
            data = self.request.recv(4096)
            if not data:
                break
            self.request.sendall(data)
            total += len(data)
        sys.stderr.write("echo: %s: %d bytes echoed\n" % (self.client_address, total))


class ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", required=True, help="file to write the settings to")
    ap.add_argument("--page-len", type=int, default=20480, help="bytes of /page")
    a = ap.parse_args()

    Page.body = page(a.page_len)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    web.daemon_threads = True
    echo = ThreadingTCP(("127.0.0.1", 0), Echo)
    for server in (web, echo):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    with open(a.env, "w") as f:
        f.write("BC20_QEMU_HTTP_PORT=%d\n" % web.server_address[1])
        f.write("BC20_QEMU_PAGE_LEN=%d\n" % len(Page.body))
        f.write("BC20_QEMU_PAGE_CRC=%08x\n" % zlib.crc32(Page.body))
        f.write("BC20_QEMU_ECHO_PORT=%d\n" % echo.server_address[1])
    sys.stderr.write("qemu-host: http on %d, echo on %d\n" % (web.server_address[1], echo.server_address[1]))
    threading.Event().wait()


if __name__ == "__main__":
    main()
