"""COUNT HTTP connections opened at once to HOST:80, each fetching 20 000 bytes; prints how many completed whole. Usage: many_connections.py COUNT HOST"""
import socket, sys, threading
n = int(sys.argv[1])
addr = socket.getaddrinfo(sys.argv[2], 80, socket.AF_INET6, socket.SOCK_STREAM)[0][4]
start = threading.Barrier(n)
done = []
def one():
    try:
        start.wait(10)
        with socket.create_connection(addr[:2], timeout=15) as s:
            s.sendall(b"GET /bytes/20000 HTTP/1.0\r\nHost: twitter.test\r\n\r\n")
            data = b""
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        head, _, body = data.partition(b"\r\n\r\n")
        if head.split(b"\r\n")[0].split(b" ")[1:2] == [b"200"] and len(body) == 20000:
            done.append(1)
        else:
            print("unexpected answer: %r, %d body bytes" % (head[:40], len(body)), file=sys.stderr)
    except Exception as e:
        print("connection failed: %r" % e, file=sys.stderr)
threads = [threading.Thread(target=one) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
print(len(done))
