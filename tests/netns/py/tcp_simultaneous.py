"""One side of a TCP simultaneous open: binds LOCAL:LPORT, waits DELAY seconds, connects to PEER:PPORT (8 s), sends a line naming itself and expects the other side's line back. Exits 1 if the connection or the exchange fails. Usage: tcp_simultaneous.py LOCAL LPORT PEER PPORT DELAY NAME"""
import socket, sys, time

local, lport, peer, pport, delay, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
fam = socket.AF_INET6 if ":" in local else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((local, lport))
time.sleep(delay)
s.settimeout(8)
try:
    s.connect((peer, pport))
    s.sendall(b"hello from %s\n" % name.encode())
    got = b""
    while not got.endswith(b"\n"):
        part = s.recv(100)
        if not part:
            break
        got += part
except OSError as e:
    sys.exit("%s: %s" % (name, e))
print("%s got %r" % (name, got.decode().strip()))
sys.exit(0 if got.startswith(b"hello from ") else 1)
