"""Burst of 3 000 UDP datagrams in three flows to ADDR6:9970; every echo must come back once, intact. Usage: udp_burst_client.py ADDR6"""
import hashlib, random, socket, struct, sys, time
dst = (sys.argv[1], 9970)
rnd = random.Random(6146)
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
    s.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)
    s.setblocking(False)
    socks.append(s)

def body(flow, seq, size):
    head = struct.pack("!BI", flow, seq)
    fill = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + fill[: size - len(head)]

sent = {}
seq = 0
for block in range(60):
    flow = block % 3
    # At most 1232 bytes: the echo, 1280 bytes as IPv6, fits the IPv6 MTU
    # nat64d assumes (ipv6_mtu); larger DF-set replies would get
    # Fragmentation Needed (RFC 7915 §4.1) and be lost until v4server has
    # learnt the path MTU, which is not what this case is about.
    size = rnd.randint(5, 1232)
    for i in range(50):
        n = size if i < 49 else rnd.randint(5, size)
        d = body(flow, seq, n)
        sent[(flow, seq)] = d
        while True:
            try:
                socks[flow].sendto(d, dst)
                break
            except BlockingIOError:
                time.sleep(0.001)
        seq += 1
got, bad, dup = set(), 0, 0
deadline = time.time() + 8
while len(got) < len(sent) and time.time() < deadline:
    idle = True
    for flow, s in enumerate(socks):
        try:
            d = s.recv(2048)
        except BlockingIOError:
            continue
        idle = False
        f, q = struct.unpack("!BI", d[:5])
        if f != flow or sent.get((f, q)) != d:
            bad += 1
        elif (f, q) in got:
            dup += 1
        else:
            got.add((f, q))
    if idle:
        time.sleep(0.002)
print("sent %d, echoed back %d, corrupt %d, duplicated %d" % (len(sent), len(got), bad, dup))
sys.exit(0 if len(got) == len(sent) and bad == 0 and dup == 0 else 1)
