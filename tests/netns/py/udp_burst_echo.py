"""UDP echo server on 203.0.113.10:9970 for the burst case: echoes every datagram, stops 2 s after the last one (8 s before the first)."""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
s.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)  # SO_SNDBUFFORCE
s.bind(("203.0.113.10", 9970))
s.settimeout(8)
n = 0
try:
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(d, a)
        n += 1
        s.settimeout(2)
except socket.timeout:
    pass
print("echoed", n)
