//! One worker thread per TUN queue: read, hand the packet to the driver
//! ([`nat64d::driver`]), which writes what comes of it; poll only when the
//! queue is empty.

use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nat64d::driver::{BUF_LEN, Context, Driver};
use tun_rs::{InterruptEvent, SyncDevice};

use super::shared::Shared;
use super::tun::Queue;

/// Reads packets from `q` until `stop` is triggered.
pub(crate) fn run(q: &SyncDevice, shared: &Shared, index: usize, stop: &InterruptEvent) {
    let mut driver = Driver::new(index, q.tcp_gso(), q.udp_gso());
    let mut buf = vec![0u8; BUF_LEN];
    let counters = &shared.counters[index];
    let mut seen = 0;
    let mut policy = shared.policy(&mut seen);
    let mut out = Queue(q);
    loop {
        let at = driver.read_at();
        let n = match read(q, &mut buf[at..], stop, &mut driver, shared, index) {
            Ok(n) => n,
            Err(Stop) => return,
        };
        let Some(n) = n else { continue };
        if shared.policy_changed(seen) {
            policy = shared.policy(&mut seen);
        }
        let cx = Context {
            gateway: &shared.gateway,
            policy: &policy,
            now: shared.now.load(Ordering::Relaxed),
            error_rate: shared.error_rate.load(Ordering::Relaxed),
            counters,
        };
        driver.received(&cx, &mut buf, n, &mut out);
        shared.log.send(driver.events());
    }
}

/// The worker is to stop.
struct Stop;

/// One read: the packet's length, `None` to try again, or [`Stop`]. One
/// read per packet while packets are waiting; poll (with the stop event)
/// only when the queue is empty: `recv_intr` would poll before every read,
/// two system calls per packet. What the driver holds goes out before a
/// poll.
fn read(
    q: &SyncDevice,
    buf: &mut [u8],
    stop: &InterruptEvent,
    driver: &mut Driver,
    shared: &Shared,
    index: usize,
) -> Result<Option<usize>, Stop> {
    let counters = &shared.counters[index];
    let e = match q.recv(buf) {
        Ok(n) => return Ok(Some(n)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            driver.flush(counters, &mut Queue(q));
            match q.wait_readable_intr(stop) {
                Ok(()) => return Ok(None),
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    if shared.stopping.load(Ordering::Relaxed) {
        driver.flush(counters, &mut Queue(q));
        return Err(Stop);
    }
    if e.kind() != ErrorKind::Interrupted {
        tracing::error!("worker {index}: TUN read failed: {e}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}
