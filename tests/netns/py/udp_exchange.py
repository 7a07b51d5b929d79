"""Five UDP datagrams from the IPv6 client to ADDR:7 (an address inside the NAT64 prefix), each echoed back. Usage: udp_exchange.py ADDR6"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(5):
    msg = b"udp through nat64 %d" % i
    s.sendto(msg, (sys.argv[1], 7))
    got, _ = s.recvfrom(200)
    if got != msg:
        sys.exit("sent %r, got %r" % (msg, got))
