#!/usr/bin/env python3
"""The IPv4-only services of the namespace lab's v4server.

HTTP on :80 and HTTPS on :443 (both on every address of the namespace), and
UDP echo on :7. Endpoints:

  GET  /             "hello from HOST to CLIENT-ADDRESS"  (shows the NAT64 pool address)
  GET  /bytes/N      N bytes of a fixed pseudo-random stream (downloads; N <= 1 GiB)
  POST /anything     JSON {"bytes": N, "sha256": "..."} of the request body (uploads)

`--probe` checks that all three services answer on 127.0.0.1 and exits 0 or 1.
`--stream-sha256 N` prints the SHA-256 of what GET /bytes/N sends, to check downloads.
Standard library only: it runs wherever python3 does.
"""

import argparse
import hashlib
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import urllib.request

MAX_BYTES = 1 << 30
CHUNK = 64 * 1024


def stream_block():
    """A fixed 64 KiB block: downloads are deterministic, so clients can check them."""
    out = bytearray()
    seed = b"nat64gw lab stream"
    while len(out) < CHUNK:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:CHUNK])


BLOCK = stream_block()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nat64gw-lab"
    timeout = 60  # seconds a connection may sit idle

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))

    def send_text(self, code, text, ctype="text/plain"):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        host = self.headers.get("Host", "?")
        if self.path == "/":
            self.send_text(200, "hello from %s to %s\n" % (host, self.client_address[0]))
        elif self.path.startswith("/bytes/"):
            try:
                n = int(self.path[len("/bytes/"):])
            except ValueError:
                n = -1
            if not 0 <= n <= MAX_BYTES:
                self.send_text(400, "size must be 0..%d\n" % MAX_BYTES)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            left = n
            while left > 0:
                part = BLOCK if left >= CHUNK else BLOCK[:left]
                self.wfile.write(part)
                left -= len(part)
        else:
            self.send_text(404, "not found\n")

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send_text(411, "Content-Length required\n")
            return
        if not 0 <= n <= MAX_BYTES:
            self.send_text(413, "body too large\n")
            return
        digest = hashlib.sha256()
        left = n
        while left > 0:
            part = self.rfile.read(min(CHUNK, left))
            if not part:
                break
            digest.update(part)
            left -= len(part)
        self.send_text(200, json.dumps({"bytes": n - left, "sha256": digest.hexdigest()}) + "\n",
                       "application/json")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A real server's backlog, not socketserver's 5: bursts of connections
    # (the suite opens 200 at once) must not wait for SYN retransmissions.
    request_queue_size = 512


def udp_echo(sock):
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def probe():
    ok = True
    try:
        with urllib.request.urlopen("http://127.0.0.1/", timeout=2) as r:
            ok &= r.status == 200
    except OSError as e:
        print("http: %s" % e, file=sys.stderr)
        ok = False
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", 443), timeout=2) as raw:
            with ctx.wrap_socket(raw) as tls:
                ok &= tls.version() is not None
    except OSError as e:
        print("https: %s" % e, file=sys.stderr)
        ok = False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(b"probe", ("127.0.0.1", 7))
            ok &= s.recvfrom(100)[0] == b"probe"
    except OSError as e:
        print("udp echo: %s" % e, file=sys.stderr)
        ok = False
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--stream-sha256", type=int, metavar="N")
    args = ap.parse_args()
    if args.probe:
        return probe()
    if args.stream_sha256 is not None:
        digest = hashlib.sha256()
        left = args.stream_sha256
        while left > 0:
            part = BLOCK if left >= CHUNK else BLOCK[:left]
            digest.update(part)
            left -= len(part)
        print(digest.hexdigest())
        return 0
    if not (args.cert and args.key):
        ap.error("--cert and --key are required to serve")

    http_srv = Server(("0.0.0.0", 80), Handler)
    https_srv = Server(("0.0.0.0", 443), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    # The handshake runs in each connection's own thread (on its first read),
    # so a slow or silent client cannot hold up the accept loop.
    https_srv.socket = ctx.wrap_socket(https_srv.socket, server_side=True,
                                       do_handshake_on_connect=False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 7))

    threading.Thread(target=udp_echo, args=(udp,), daemon=True).start()
    threading.Thread(target=https_srv.serve_forever, daemon=True).start()
    print("serving HTTP :80, HTTPS :443, UDP echo :7", file=sys.stderr, flush=True)
    http_srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
