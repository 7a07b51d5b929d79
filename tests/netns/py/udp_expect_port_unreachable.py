"""UDP from the IPv4 side to a pool port with no binding (198.51.100.3:9) must get ICMP Port Unreachable (connection refused)."""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.10", 0))
s.connect(("198.51.100.3", 9))
s.settimeout(2)
for i in range(3):
    s.send(b"anyone?")
    try:
        s.recv(100)
        sys.exit("an answer from an unbound pool port")
    except ConnectionRefusedError:
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no Port Unreachable")
