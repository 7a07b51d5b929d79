"""COUNT UDP datagrams (default 3) to ADDR:7, each echoed back unchanged; IPv4 or IPv6 after ADDR's family. Usage: udp_exchange.py ADDR [COUNT]"""
import socket, sys
addr = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(count):
    msg = b"udp echo %d" % i
    s.sendto(msg, (addr, 7))
    got, _ = s.recvfrom(200)
    if got != msg:
        sys.exit("sent %r, got %r" % (msg, got))
