"""Opens COUNT TCP connections to ADDR:PORT that send nothing, holds them for SECONDS, reports how many the server closed, then closes them. Usage: idle_clients.py ADDR PORT COUNT SECONDS"""
import socket, sys, time
addr, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
held = []
for _ in range(count):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.connect((addr, port))
    held.append(s)
print("holding", len(held), flush=True)
# Count those the server has closed (EOF or reset) after a moment.
time.sleep(min(1.0, secs))
# TCP_INFO's first byte is the state: 1 is ESTABLISHED.
closed = sum(1 for s in held if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 1)
print("closed by the server", closed, flush=True)
time.sleep(secs)
