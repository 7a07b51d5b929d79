"""Opens COUNT TCP connections to ADDR:PORT that send nothing, holds them for SECONDS, then closes them. Usage: idle_clients.py ADDR PORT COUNT SECONDS"""
import socket, sys, time
addr, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
held = []
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((addr, port))
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(secs)
