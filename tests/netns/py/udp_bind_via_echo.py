"""Creates a UDP binding for local port PORT by one exchange with the echo service at ADDR6:7. Usage: udp_bind_via_echo.py ADDR6 PORT"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[2])))
s.settimeout(2)
s.sendto(b"binding", (sys.argv[1], 7))
assert s.recvfrom(100)[0] == b"binding"
