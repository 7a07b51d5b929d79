"""Sends one UDP datagram to DST:7 from each of COUNT addresses BASE+i (i from FIRST, hex in the last group; the addresses must exist), 200 sockets at a time (answers awaited 3 s), and prints how many were echoed back and how many got an ICMP error: "echoed N refused N silent N". Usage: udp_rotating.py BASE FIRST COUNT DST"""
import ipaddress, select, socket, sys, time

base = int(ipaddress.IPv6Address(sys.argv[1]))
first, count, dst = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
echoed = refused = silent = 0
errors = {}
for start in range(first, first + count, 200):
    socks = []
    for i in range(start, min(start + 200, first + count)):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((str(ipaddress.IPv6Address(base + i)), 0))
        s.connect((dst, 7))
        s.setblocking(False)
        s.send(b"from %d" % i)
        socks.append(s)
    waiting, end = set(socks), time.monotonic() + 3.0
    while waiting and time.monotonic() < end:
        ready, _, _ = select.select(list(waiting), [], [], 0.1)
        for s in ready:
            waiting.discard(s)
            try:
                s.recv(100)
                echoed += 1
            except OSError as e:
                refused += 1
                errors[e.strerror] = errors.get(e.strerror, 0) + 1
    silent += len(waiting)
    for s in socks:
        s.close()
print("echoed %d refused %d silent %d" % (echoed, refused, silent))
if errors:
    print("errors: %s" % errors, file=sys.stderr)
