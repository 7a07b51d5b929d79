"""Sends COUNT AAAA queries for unique names under bench.test (each costs dns64d two upstream questions), or for NAME over and over when it is given (a cached name), to SERVER:PORT over UDP as fast as it can, for at most 10 s, reading whatever answers come back without waiting for them; prints how many were sent and answered. Usage: dns_flood.py SERVER PORT COUNT [NAME]"""
import socket, struct, sys, time
server, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fixed = sys.argv[4].encode() if len(sys.argv) > 4 else None
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setblocking(False)
def query(i):
    labels = fixed.split(b".") if fixed else [b"f%d" % i, b"bench", b"test"]
    name = b"".join(bytes([len(l)]) + l for l in labels) + b"\0"
    return struct.pack("!HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 28, 1)
sent = answered = 0
deadline = time.time() + 10
while sent < count and time.time() < deadline:
    try:
        s.sendto(query(sent), (server, port))
        sent += 1
    except BlockingIOError:
        time.sleep(0.001)
    try:
        while True:
            s.recv(4096)
            answered += 1
    except BlockingIOError:
        pass
end = time.time() + 2
while time.time() < end:
    try:
        s.recv(4096)
        answered += 1
    except BlockingIOError:
        time.sleep(0.01)
print("sent", sent, "answered", answered)
