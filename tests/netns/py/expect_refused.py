"""Connects to ADDR:PORT over PROTO ("tcp": a SYN; "udp": one datagram, then a read) and expects "connection refused" (an ICMPv6 Port Unreachable) within SECONDS; prints after how long. Usage: expect_refused.py PROTO ADDR PORT SECONDS"""
import socket, sys, time

proto, addr, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET6, kind)
s.settimeout(secs)
t0 = time.monotonic()
try:
    s.connect((addr, port))
    if proto == "udp":
        s.send(b"anyone there?")
        s.recv(100)
    sys.exit("%s to [%s]:%d: answered, not refused" % (proto, addr, port))
except ConnectionRefusedError:
    print("%s to [%s]:%d refused after %.1f s" % (proto, addr, port, time.monotonic() - t0))
except OSError as e:
    sys.exit("%s to [%s]:%d: %s after %.1f s, not refused" % (proto, addr, port, e, time.monotonic() - t0))
