use super::*;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

#[test]
fn the_next_reader_is_found_in_turn_and_never_oneself() {
    assert_eq!(next_after(0, 4, |_| true), Some(1));
    assert_eq!(next_after(3, 4, |_| true), Some(0));
    assert_eq!(next_after(2, 4, |j| j == 1), Some(1));
    assert_eq!(next_after(1, 4, |j| j == 1), None);
    assert_eq!(next_after(0, 1, |_| true), None);
}

#[test]
fn help_is_asked_once_per_streak() {
    let mut s = Streak::default();
    let asks: Vec<u32> = (1..=3 * HELP_AFTER).filter(|_| s.read()).collect();
    assert_eq!(asks.len(), 1);
    s.empty();
    assert!(!(1..HELP_AFTER).any(|_| s.read()));
    assert!(s.read());
}

/// Two readers on sockets of their own; reader 0 takes `slow` per query.
/// Returns the group, each reader's answered count, reader 1's helped
/// count and the address of reader 0's socket.
fn two_readers(slow: Duration) -> (Arc<Group>, Arc<[AtomicU64; 2]>, Arc<AtomicU64>, SocketAddr) {
    let socks: Vec<_> = (0..2)
        .map(|_| Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap()))
        .collect();
    let addr = socks[0].local_addr().unwrap();
    let group = Group::new(socks).unwrap();
    let answered = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let helped = Arc::new(AtomicU64::new(0));
    for me in 0..2 {
        let (group, answered, helped) = (group.clone(), answered.clone(), helped.clone());
        std::thread::spawn(move || {
            let count = answered.clone();
            let mut echo = move |wire: &[u8], peer: SocketAddr, sock: &Arc<UdpSocket>| {
                if me == 0 {
                    std::thread::sleep(slow);
                }
                count[me].fetch_add(1, Ordering::SeqCst);
                let _ = sock.send_to(wire, peer);
            };
            group.serve(me, &mut echo, &|n| {
                if me == 1 {
                    helped.fetch_add(n, Ordering::SeqCst);
                }
            });
        });
    }
    (group, answered, helped, addr)
}

fn wait_for(total: u64, answered: &[AtomicU64; 2]) {
    let start = Instant::now();
    while answered
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .sum::<u64>()
        < total
    {
        assert!(start.elapsed() < Duration::from_secs(20), "answers missing");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_reader_with_a_queue_is_helped_by_an_idle_one() {
    let (_group, answered, helped, addr) = two_readers(Duration::from_millis(1));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    // 150 small datagrams fit a default receive buffer (about 1 KiB of it
    // each on loopback): none is dropped before it is read.
    for i in 0..150u32 {
        client.send_to(&i.to_be_bytes(), addr).unwrap();
    }
    wait_for(150, &answered);
    let (a, b) = (
        answered[0].load(Ordering::SeqCst),
        answered[1].load(Ordering::SeqCst),
    );
    assert_eq!(a + b, 150);
    assert!(b > 30, "reader 0 answered {a}, reader 1 {b}");
    assert_eq!(helped.load(Ordering::SeqCst), b);
}

#[test]
fn queries_one_at_a_time_stay_with_their_reader() {
    let (_group, answered, helped, addr) = two_readers(Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 8];
    for i in 0..3 * HELP_AFTER {
        client.send_to(&i.to_be_bytes(), addr).unwrap();
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &i.to_be_bytes());
    }
    assert_eq!(
        answered[0].load(Ordering::SeqCst),
        u64::from(3 * HELP_AFTER)
    );
    assert_eq!(answered[1].load(Ordering::SeqCst), 0);
    assert_eq!(helped.load(Ordering::SeqCst), 0);
}
