"""UDP server on [::]:PORT: prints each sender and answers 'back:' + data, for 5 s after the last datagram. Usage: hairpin_server.py PORT"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
s.settimeout(5)
while True:
    data, peer = s.recvfrom(200)
    print("from", peer[0], flush=True)
    s.sendto(b"back:" + data, peer)
