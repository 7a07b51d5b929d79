"""IPv4 side of the out-of-order fragments case: sends a 2 000-byte UDP datagram from 203.0.113.10:7 to POOL_ADDR:PORT as two raw fragments, last first. Usage: v4_fragments_out_of_order.py POOL_ADDR PORT"""
import socket, struct, sys
dst, port = sys.argv[1], int(sys.argv[2])
src = socket.inet_aton("203.0.113.10")
d4 = socket.inet_aton(dst)
payload = b"\xca\xfe" * 1000
udp = struct.pack("!HHHH", 7, port, 8 + len(payload), 0) + payload
s = sum(struct.unpack("!%dH" % ((12 + len(udp)) // 2),
                      src + d4 + struct.pack("!xBH", 17, len(udp)) + udp))
while s >> 16:
    s = (s & 0xffff) + (s >> 16)
udp = udp[:6] + struct.pack("!H", (~s & 0xffff) or 0xffff) + udp[8:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def frag(off, data, more):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 0x4646,
                       (more << 13) | (off // 8), 64, 17, 0, src, d4) + data
r.sendto(frag(1000, udp[1000:], 0), (dst, 0))
r.sendto(frag(0, udp[:1000], 1), (dst, 0))
