"""Opens COUNT ICMP query sessions through nat64d: raw ICMPv6 Echo Requests to DST from COUNT different (address in v6client's /64, identifier) pairs, paced to about 50 000 a second. Usage: icmp_sessions.py DST COUNT"""
import socket, struct, sys, time
dst_text, n = sys.argv[1], int(sys.argv[2])
dst = socket.inet_pton(socket.AF_INET6, dst_text)
base = socket.inet_pton(socket.AF_INET6, "2001:db8:1::2:0")[:12]
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
def csum(b):
    if len(b) % 2: b += b"\0"
    c = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while c >> 16: c = (c & 0xffff) + (c >> 16)
    return ~c & 0xffff
for i in range(n):
    src = base + struct.pack("!I", 0x10000 + i // 60000)
    icmp = struct.pack("!BBHHH", 128, 0, 0, i % 60000, 1) + b"pingping"
    c = csum(src + dst + struct.pack("!I3xB", len(icmp), 58) + icmp)
    icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
    try:
        s.sendto(struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64) + src + dst + icmp, (dst_text, 0))
    except BlockingIOError:
        pass
    if i % 250 == 249:
        time.sleep(0.005)
