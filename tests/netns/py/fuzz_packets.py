"""Sends COUNT mutated packets (random byte flips, cuts and lengths on valid UDP, TCP and ICMP packets) with raw sockets, for at most 10 s: from the IPv6 side to DST inside the NAT64 prefix (FAMILY 6, from SRC), or from the IPv4 side to DST in the pool (FAMILY 4, from SRC). The fixed IP header keeps its addresses so that the kernel routes the packet into nat64d; everything after it is fair game. Seeded: the same packets every run. Usage: fuzz_packets.py FAMILY SRC DST COUNT"""
import random, socket, struct, sys, time
family, src, dst, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
rnd = random.Random(7915)
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def l4(proto):
    payload = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 8, 64, 600])))
    if proto == 17:
        return struct.pack("!HHHH", rnd.randint(1, 65535), rnd.choice([7, 53, 80]), 8 + len(payload), 0) + payload
    if proto == 6:
        return struct.pack("!HHIIBBHHH", rnd.randint(1024, 65535), 80, rnd.getrandbits(32), 0, 0x50, rnd.choice([2, 16, 18, 4, 1]), 65535, 0, 0) + payload
    return struct.pack("!BBHHH", rnd.choice([8, 0, 3, 11, 12, 128, 129, 1, 2, 3, 4, 135]), rnd.randint(0, 15), 0, rnd.getrandbits(16), 1) + payload
if family == 6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sa, da = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
sent = 0
deadline = time.time() + 10
while sent < count and time.time() < deadline:
    proto = rnd.choice([6, 17, 58 if family == 6 else 1, 44, 0, 43, 60, 59, rnd.randint(0, 255)])
    body = bytearray(l4(proto if proto in (6, 17) else (58 if family == 6 else 1)))
    for _ in range(rnd.randint(0, 6)):
        if body:
            body[rnd.randrange(len(body))] = rnd.getrandbits(8)
    if body and rnd.random() < 0.3:
        body = body[: rnd.randrange(len(body))]
    if family == 6:
        hdr = struct.pack("!IHBB", (6 << 28) | rnd.getrandbits(20), len(body), proto, rnd.choice([1, 2, 64, 255])) + sa + da
    else:
        flags = rnd.choice([0, 0x4000, 0x2000, 0x2000 | rnd.randint(1, 100), rnd.randint(1, 100)])
        ihl = rnd.choice([5, 5, 5, 6, 15])
        opts = bytes(rnd.getrandbits(8) for _ in range((ihl - 5) * 4))
        hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, rnd.getrandbits(8), 20 + len(opts) + len(body), rnd.getrandbits(16), flags, rnd.choice([1, 2, 64]), proto, 0, sa, da) + opts
        if rnd.random() < 0.9:
            hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    try:
        s.sendto(hdr + bytes(body), (dst, 0))
    except OSError:
        pass
    sent += 1
print("sent", sent)
