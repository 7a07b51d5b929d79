"""Echoes every TCP connection on PORT (all addresses) back to its sender, a thread each, for SECONDS, then exits. Usage: tcp_echo_server.py PORT SECONDS"""
import os, socket, sys, threading


def echo(c):
    with c:
        c.settimeout(30)
        try:
            while True:
                b = c.recv(4096)
                if not b:
                    return
                c.sendall(b)
        except OSError:
            return


threading.Timer(float(sys.argv[2]), os._exit, [0]).start()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(128)
print("echoing on", sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
