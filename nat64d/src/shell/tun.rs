//! The TUN device: opened multi-queue (one queue per worker), with the
//! virtio-net header and offload when the kernel agrees; the routes of the
//! prefixes and the pool into it (`nat64.routes`).

use std::process::Command;

use anyhow::{Context, bail};
use common::PrefixConfig;
use nat64d::config::Nat64Config;
use nat64d::driver::Egress;
use tun_rs::{DeviceBuilder, SyncDevice};

/// Packets the kernel may queue towards each TUN queue before it drops
/// (the kernel's default is 500): a burst waits for a worker instead of
/// being lost. Memory is only used while a queue is backlogged.
const TUN_QUEUE_LEN: u32 = 8192;

/// A TUN queue as the driver's way out.
pub(crate) struct Queue<'a>(pub(crate) &'a SyncDevice);

impl Egress for Queue<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.send(bytes).map(|_| ())
    }
}

/// The claim of one nat64d on its TUN device name in this network namespace:
/// an abstract Unix socket named after the device (abstract names belong to
/// the network namespace and vanish with the process, even after SIGKILL).
/// A second nat64d for the same device finds the name taken and refuses to
/// start, instead of attaching queues to the first one's device.
#[derive(Debug)]
pub(crate) struct Claim {
    _socket: std::os::unix::net::UnixListener,
}

impl Claim {
    /// Claims `tun`, or says who holds it.
    pub(crate) fn take(tun: &str) -> anyhow::Result<Claim> {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("nat64d-tun-{tun}");
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .context("cannot name the TUN claim")?;
        match std::os::unix::net::UnixListener::bind_addr(&addr) {
            Ok(s) => Ok(Claim { _socket: s }),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
                "nat64.tun: another nat64d in this network namespace already runs on TUN \
                 device {tun} (it holds the abstract socket @{name}); stop it, or give this \
                 one another nat64.tun"
            ),
            Err(e) => Err(e).context("cannot claim the TUN device name"),
        }
    }
}

/// Refuses a TUN device that exists already unless `adopt`: nat64d would
/// attach its queues to a device something else made. A device whose owner
/// just died (a restart after SIGKILL) is given five seconds to go away:
/// the kernel unregisters it under the routing lock after the last
/// descriptor closes, which took over a second on a loaded 2-CPU machine
/// with other namespaces coming and going.
pub(crate) fn refuse_existing(name: &str, adopt: bool) -> anyhow::Result<()> {
    let exists = || std::path::Path::new("/sys/class/net").join(name).exists();
    if adopt {
        if exists() {
            tracing::info!("TUN device {name} exists; using it (nat64.adopt_tun)");
        }
        return Ok(());
    }
    for _ in 0..100 {
        if !exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bail!(
        "nat64.tun: a network device named {name} exists already and no nat64d holds it \
         (a persistent TUN device, or another program's); nat64d makes its own device: remove \
         it (`ip link del {name}`), pick another nat64.tun, or set nat64.adopt_tun = true to \
         use it"
    )
}

/// Opens the TUN device `name` with `queues` queues (IFF_MULTI_QUEUE) and
/// brings it up with `mtu` and a queue length of [`TUN_QUEUE_LEN`]. With
/// `offload`, asks for the virtio-net header and TCP/UDP segmentation
/// offload, and falls back to plain packets if the kernel refuses.
pub(crate) fn open(
    name: &str,
    queues: usize,
    mtu: u16,
    offload: bool,
) -> anyhow::Result<Vec<SyncDevice>> {
    let build = |offload: bool| {
        DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .multi_queue(true)
            .offload(offload)
            .build_sync()
    };
    let first = match build(offload) {
        Ok(d) => Ok(d),
        Err(e) if offload => {
            tracing::warn!(
                "TUN device {name}: offload refused ({e}); running without it (one read and one write per packet)"
            );
            build(false)
        }
        Err(e) => Err(e),
    }
    .with_context(|| {
        format!("cannot open TUN device {name} (needs CAP_NET_ADMIN and /dev/net/tun)")
    })?;
    if first.tcp_gso() {
        tracing::info!(
            "TUN device {name}: offload on (TCP segmentation{}, partial checksums)",
            if first.udp_gso() {
                ", UDP segmentation"
            } else {
                "; no UDP segmentation: kernel before 6.2"
            }
        );
    } else {
        tracing::info!("TUN device {name}: offload off");
    }
    let mut qs = Vec::with_capacity(queues);
    for i in 1..queues {
        let q = first
            .try_clone()
            .with_context(|| format!("cannot open queue {i} of TUN device {name}"))?;
        qs.push(q);
    }
    qs.insert(0, first);
    for (i, q) in qs.iter().enumerate() {
        q.set_nonblocking(true)
            .with_context(|| format!("cannot make queue {i} of TUN device {name} non-blocking"))?;
    }
    let (mtu, qlen) = (mtu.to_string(), TUN_QUEUE_LEN.to_string());
    ip(&[
        "link",
        "set",
        "dev",
        name,
        "mtu",
        &mtu,
        "txqueuelen",
        &qlen,
        "up",
    ])?;
    Ok(qs)
}

/// Runs `ip ARGS`, failing with its error output.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The routes nat64d installed, removed at stop.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    /// (family flag, destination, device).
    installed: Vec<(&'static str, String, String)>,
}

impl Routes {
    /// With `nat64.routes`: every prefix (IPv6) and pool prefix (IPv4) into
    /// the TUN. A route that exists already (the operator's) is left as it
    /// is, said in the log, and not removed at stop: nat64d removes only
    /// what it added.
    pub(crate) fn install(c: &Nat64Config, prefix: &PrefixConfig) -> anyhow::Result<Routes> {
        let mut r = Routes::default();
        if !c.routes {
            return Ok(r);
        }
        let wanted = prefix
            .prefixes
            .iter()
            .map(|p| ("-6", p.to_string()))
            .chain(c.pool4.iter().map(|p| ("-4", p.to_string())));
        for (family, dst) in wanted {
            match ip(&[family, "route", "add", &dst, "dev", &c.tun]) {
                Ok(()) => r.installed.push((family, dst, c.tun.clone())),
                Err(e) if e.to_string().contains("File exists") => tracing::warn!(
                    "nat64.routes: a route to {dst} exists already; left as it is (and not \
                     removed at stop): check that it leads into {}",
                    c.tun
                ),
                Err(e) => {
                    r.remove();
                    return Err(e);
                }
            }
        }
        Ok(r)
    }

    /// Removes what [`Routes::install`] added, last first.
    pub(crate) fn remove(self) {
        for (family, dst, dev) in self.installed.iter().rev() {
            if let Err(e) = ip(&[family, "route", "del", dst, "dev", dev]) {
                tracing::warn!("{e}");
            }
        }
    }
}
