"""HTTP server on [::]:PORT answering 'ipv6 server saw CLIENT' (the static binding's target). Usage: static_server.py PORT"""
import http.server, socket, sys
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("ipv6 server saw %s\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
S(("::", int(sys.argv[1])), H).serve_forever()
