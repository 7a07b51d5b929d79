"""Sends 'hairpin' to ADDR6:PORT (a pool address inside the prefix) and expects 'back:hairpin' from that same address. Usage: hairpin_client.py ADDR6 PORT"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    s.sendto(b"hairpin", (sys.argv[1], int(sys.argv[2])))
    try:
        got, peer = s.recvfrom(200)
    except socket.timeout:
        continue
    if got != b"back:hairpin":
        sys.exit("got %r" % got)
    import ipaddress
    if ipaddress.ip_address(peer[0]) != ipaddress.ip_address(sys.argv[1]):
        sys.exit("answer from %s, not %s" % (peer[0], sys.argv[1]))
    sys.exit(0)
sys.exit("no answer through the hairpin")
