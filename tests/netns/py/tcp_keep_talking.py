"""Holds one TCP connection to ADDR:PORT for SECONDS, echoing a line every 0.2 s; exits 1 if any echo is lost or the connection breaks. Usage: tcp_keep_talking.py ADDR PORT SECONDS"""
import socket, sys, time

addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((addr, port), timeout=5)
end, n = time.monotonic() + secs, 0
while time.monotonic() < end:
    msg = b"line %d\n" % n
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        part = s.recv(100)
        if not part:
            sys.exit("connection closed after %d lines" % n)
        got += part
    if got != msg:
        sys.exit("sent %r, got %r" % (msg, got))
    n += 1
    time.sleep(0.2)
print("%d lines echoed over %.0f s" % (n, secs))
