"""Sends 3 UDP datagrams from source address SRC to DST:7, expecting nothing back. Usage: udp_from.py SRC DST"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"spoof", (sys.argv[2], 7))
