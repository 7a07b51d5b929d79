"""A DNS server on ADDR:PORT (UDP) for SECONDS that answers every question with an empty answer and no SOA: NXDOMAIN for names starting with "nx", NODATA otherwise; prints "ready" once bound, then each question it gets as "NAME TYPE". Usage: dns_nosoa_upstream.py ADDR PORT SECONDS"""
import socket, struct, sys, time

addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
print("ready", flush=True)
end = time.monotonic() + secs
while time.monotonic() < end:
    s.settimeout(max(0.1, end - time.monotonic()))
    try:
        q, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    if len(q) < 12:
        continue
    ident, flags, qd = struct.unpack("!HHH", q[:6])
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1 : i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1 : i + 3])[0] if i + 3 <= len(q) else 0
    question = q[12 : i + 5]
    name = ".".join(labels)
    rcode = 3 if name.startswith("nx") else 0
    print(name, qtype, flush=True)
    # QR, opcode 0, AA, RD copied, RA; one question, nothing else.
    out = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1, 0, 0, 0)
    s.sendto(out + question, peer)
