"""IPv4 UDP echo check: three datagrams to ADDR:7, each echoed back unchanged. Usage: udp_echo.py ADDR"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    msg = b"echo %d" % i
    s.sendto(msg, (sys.argv[1], 7))
    got, _ = s.recvfrom(100)
    if got != msg:
        sys.exit("udp echo: sent %r, got %r" % (msg, got))
