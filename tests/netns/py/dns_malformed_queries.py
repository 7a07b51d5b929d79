"""Garbage after a DNS header gets FORMERR with the query's ID; a 3-byte datagram gets nothing. Usage: dns_malformed_queries.py SERVER6"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff", (sys.argv[1], 53))
r = s.recv(512)
assert r[:2] == b"\xab\xcd" and r[2] & 0x80 and r[3] & 0x0f == 1, r.hex()
s.sendto(b"\x01\x02\x03", (sys.argv[1], 53))
