"""IPv6 side of the out-of-order fragments case (RFC 6146 §3.4): binds PORT, sends a 2 000-byte UDP datagram to ADDR6:7 as two raw fragments, last first, and reports the echo; then waits for the IPv4 side's fragmented datagram. Usage: frag_client.py ADDR6 PORT OWN_ADDR6"""
import os, socket, struct, sys
dst, port, own = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("::", port))
u.settimeout(3)
u.sendto(b"hello", (dst, 7))
assert u.recvfrom(100)[0] == b"hello"
print("bound", flush=True)
src = socket.inet_pton(socket.AF_INET6, own)
d6 = socket.inet_pton(socket.AF_INET6, dst)
payload = os.urandom(2000)
udp = struct.pack("!HHHH", port, 7, 8 + len(payload), 0) + payload
pseudo = src + d6 + struct.pack("!IxxxB", len(udp), 17)
c = csum(pseudo + udp) or 0xffff
udp = udp[:6] + struct.pack("!H", c) + udp[8:]
r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
def frag(off, data, more):
    fh = struct.pack("!BBHI", 17, 0, off | more, 0x6464)
    ip = struct.pack("!IHBB", 6 << 28, 8 + len(data), 44, 64) + src + d6
    return ip + fh + data
r.sendto(frag(1000, udp[1000:], 0), (dst, 0))
r.sendto(frag(0, udp[:1000], 1), (dst, 0))
got = u.recvfrom(4000)[0]
print("echo", len(got), got == payload, flush=True)
# The IPv4 side sends its fragments to this socket now.
got = u.recvfrom(4000)[0]
print("from v4server", len(got), got[:4].hex(), flush=True)
