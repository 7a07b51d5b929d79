"""Sends DF 1400-byte UDP datagrams to ADDR6:7 until the kernel reports EMSGSIZE, then prints the path MTU it learnt. Usage: learn_path_mtu.py ADDR6"""
import errno, socket, sys, time
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, IPV6_MTU = 23, 2, 24
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
s.connect((sys.argv[1], 7))
s.settimeout(0.5)
for _ in range(10):
    try:
        s.send(b"x" * 1400)  # IPv6 1448 bytes, IPv4 1428 after translation
    except OSError as e:
        if e.errno == errno.EMSGSIZE:
            break
        raise
    time.sleep(0.3)
print(s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU))
