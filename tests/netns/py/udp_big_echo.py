"""Sends one UDP datagram of SIZE bytes to ADDR:7 (an address the echo answers from) and expects it back unchanged (3 tries, 2 s each: the first may only teach the path MTU). Usage: udp_big_echo.py ADDR SIZE"""
import socket, sys

addr, size = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect((addr, 7))
s.settimeout(2)
msg = bytes((i * 13) & 0xFF for i in range(size))
for attempt in range(3):
    try:
        s.send(msg)
        got = s.recv(65535)
    except OSError as e:
        print("try %d: %s" % (attempt + 1, e), file=sys.stderr)
        continue
    if got == msg:
        print("%d bytes echoed on try %d" % (size, attempt + 1))
        sys.exit(0)
    sys.exit("got %d bytes back, not the %d sent" % (len(got), size))
sys.exit("no echo of %d bytes" % size)
