"""Sends COUNT mutated DNS datagrams to SERVER:PORT over UDP for at most 10 s: valid queries (names, types, EDNS) with random byte flips, cuts, random counts, compression pointers and pure noise; seeded, the same every run. Prints how many were sent and answered. Usage: dns_fuzz.py SERVER PORT COUNT"""
import random, socket, struct, sys, time
server, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(6147)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setblocking(False)
def name():
    labels = [rnd.choice([b"twitter", b"test", b"x" * rnd.randint(1, 63), b"many", b"ipv4only", b"arpa", b"\xc0\x0c"]) for _ in range(rnd.randint(0, 5))]
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"
def query():
    qd, an, ns, ar = 1, 0, 0, rnd.choice([0, 1])
    if rnd.random() < 0.2:
        qd, an, ns, ar = (rnd.randint(0, 65535) for _ in range(4))
    m = struct.pack("!HHHHHH", rnd.getrandbits(16), rnd.getrandbits(16) if rnd.random() < 0.2 else 0x0100, qd, an, ns, ar)
    m += name() + struct.pack("!HH", rnd.choice([1, 28, 12, 255, 5, 39, rnd.getrandbits(16)]), rnd.choice([1, 3, 255, rnd.getrandbits(16)]))
    if ar:
        m += b"\0" + struct.pack("!HHIH", 41, rnd.choice([512, 4096, 0, 65535]), rnd.getrandbits(32), 0)
    return bytearray(m)
sent = answered = 0
deadline = time.time() + 10
while sent < count and time.time() < deadline:
    m = query() if rnd.random() < 0.9 else bytearray(rnd.getrandbits(8) for _ in range(rnd.randint(0, 600)))
    for _ in range(rnd.randint(0, 4)):
        if m:
            m[rnd.randrange(len(m))] = rnd.getrandbits(8)
    if m and rnd.random() < 0.2:
        m = m[: rnd.randrange(len(m))]
    try:
        s.sendto(bytes(m), (server, port))
        sent += 1
    except BlockingIOError:
        time.sleep(0.001)
    try:
        while True:
            s.recv(65535)
            answered += 1
    except BlockingIOError:
        pass
time.sleep(1)
try:
    while True:
        s.recv(65535)
        answered += 1
except BlockingIOError:
    pass
print("sent", sent, "answered", answered)
