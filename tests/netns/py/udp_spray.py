"""From the IPv4 side: COUNT UDP datagrams to ADDR:PORT, each from a socket of its own (so from COUNT different source ports), within 10 s. Usage: udp_spray.py ADDR PORT COUNT"""
import socket, sys, time
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + 10
sent = 0
while sent < count and time.time() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("203.0.113.10", 0))
    s.sendto(b"spray", (addr, port))
    s.close()
    sent += 1
print("sent", sent)
