"""Opens a TCP connection to SERVER:PORT, sends COUNT queries for NAME (type AAAA) and never reads an answer; holds the connection until the server closes it or SECONDS pass; prints "closed after N s" or "still open". Usage: tcp_pipeline_noread.py SERVER PORT NAME COUNT SECONDS"""
import socket, struct, sys, time
server, port, name, count, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
family = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((server, port))
for i in range(count):
    q = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 28, 1)
    try:
        s.sendall(struct.pack("!H", len(q)) + q)
    except OSError:
        break
start = time.time()
while time.time() - start < secs:
    # The connection's state (Linux TCP_INFO, first byte): 1 is
    # ESTABLISHED; the server's FIN or reset moves it on, while the
    # answers stay unread.
    if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 1:
        print("closed after %d s" % (time.time() - start))
        sys.exit(0)
    time.sleep(0.25)
print("still open")
