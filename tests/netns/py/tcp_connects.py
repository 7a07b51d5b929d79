"""Opens COUNT TCP connections to ADDR:PORT one after another (3 s each), each echoing one line, and prints how they ended: "ok N refused N other N" (refused: EACCES, the ICMPv6 administratively prohibited a NAT64 answers with). Usage: tcp_connects.py ADDR PORT COUNT"""
import errno, socket, sys

addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = refused = other = 0
for i in range(count):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((addr, port))
        s.sendall(b"hello %d\n" % i)
        if s.recv(100) == b"hello %d\n" % i:
            ok += 1
        else:
            other += 1
    except OSError as e:
        if e.errno == errno.EACCES:
            refused += 1
        else:
            other += 1
            print("connection %d: %s" % (i, e), file=sys.stderr)
    finally:
        s.close()
print("ok %d refused %d other %d" % (ok, refused, other))
