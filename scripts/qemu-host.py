#!/usr/bin/env python3
"""The host side of the QEMU firmware tests (scripts/qemu-test): an HTTP server with one
deterministic page, an HTTPS server with the same page, and a TCP echo server, all on free
loopback ports.

    scripts/qemu-host.py --env FILE [--page-len N] [--tls-cert PEM --tls-key PEM]

The HTTPS server runs when given a certificate (its chain, PEM) and its key: TLS 1.3 only, as
embedded-tls speaks nothing else. Once all listen it writes FILE: shell assignments of the
ports and of the page's length and CRC-32 (zlib's), which the firmware is built with
(BC20_QEMU_* variables). Then it serves until killed, logging each request and connection
(and failed TLS handshakes) to stderr. Standard library only.
"""

import argparse
import http.server
import random
import socket
import socketserver
import ssl
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


class TlsPage(Page):
    """The page over TLS. The server's listening socket is wrapped without handshaking on
    accept (that would hold up the accepting thread); the handshake runs here, in the
    connection's own thread, and one that fails (a port probe, a client that rejects the
    certificate) is logged and the connection closed."""

    def handle(self):
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write("https: %s: handshake failed: %s\n" % (self.client_address, e))
            return
        sys.stderr.write(
            "https: %s: %s, %s\n" % (self.client_address, self.request.version(), self.request.cipher()[0])
        )
        super().handle()

    def log_message(self, fmt, *args):
        sys.stderr.write("https: %s\n" % (fmt % args))


def https_server(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TlsPage)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server


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
    ap.add_argument("--tls-cert", help="the HTTPS server's certificate chain, PEM")
    ap.add_argument("--tls-key", help="its private key, PEM")
    a = ap.parse_args()
    if (a.tls_cert is None) != (a.tls_key is None):
        ap.error("--tls-cert and --tls-key go together")

    Page.body = page(a.page_len)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    web.daemon_threads = True
    echo = ThreadingTCP(("127.0.0.1", 0), Echo)
    servers = [web, echo]
    tls = None
    if a.tls_cert:
        tls = https_server(a.tls_cert, a.tls_key)
        servers.append(tls)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    with open(a.env, "w") as f:
        f.write("BC20_QEMU_HTTP_PORT=%d\n" % web.server_address[1])
        f.write("BC20_QEMU_PAGE_LEN=%d\n" % len(Page.body))
        f.write("BC20_QEMU_PAGE_CRC=%08x\n" % zlib.crc32(Page.body))
        f.write("BC20_QEMU_ECHO_PORT=%d\n" % echo.server_address[1])
        if tls:
            f.write("BC20_QEMU_HTTPS_PORT=%d\n" % tls.server_address[1])
    sys.stderr.write("qemu-host: http on %d, echo on %d" % (web.server_address[1], echo.server_address[1]))
    sys.stderr.write(", https on %d\n" % tls.server_address[1] if tls else "\n")
    threading.Event().wait()


if __name__ == "__main__":
    main()
