//! UDP queries answered on the CPU they arrive on. dns64d binds one UDP
//! socket per reader thread on each listen address (SO_REUSEPORT). By
//! default the kernel picks a socket by a hash of the client's address and
//! port, so a query arriving on one CPU often wakes a reader on another:
//! a cross-CPU wake-up per query, the tail of dns64d's answer latency at
//! moderate rates. Here reader `i` is pinned to the `i`-th CPU dns64d may
//! use, and a classic BPF program on the socket group
//! (`SO_ATTACH_REUSEPORT_CBPF`, Linux 4.5) hands each query to the reader
//! of the CPU it arrived on; a query on a CPU with no reader falls back to
//! the kernel's hash (the program returns an index past the group).
//! Classic BPF needs no capability.

use std::os::fd::AsRawFd;

/// `BPF_LD | BPF_W | BPF_ABS`, `BPF_JMP | BPF_JEQ | BPF_K`, `BPF_RET | BPF_K`.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
/// The ancillary load of the current CPU: `SKF_AD_OFF + SKF_AD_CPU`.
const AD_CPU: u32 = (-0x1000i32 + 36) as u32;
/// An index past every group: the kernel then picks by hash.
const NO_SOCKET: u32 = u32::MAX;

/// The program for readers on `cpus` (reader `i`, bound `i`-th in the
/// group, on `cpus[i]`): `A = cpu; if A == cpus[i] return i; ...; return
/// NO_SOCKET`. Two instructions per CPU; classic BPF allows 4 096, so at
/// most 2 000 CPUs are listed (the rest fall back to the hash).
pub fn program(cpus: &[usize]) -> Vec<libc::sock_filter> {
    let mut p = vec![libc::sock_filter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: AD_CPU,
    }];
    let mut seen = Vec::new();
    for (i, &cpu) in cpus.iter().enumerate().take(2000) {
        let (Ok(cpu), Ok(i)) = (u32::try_from(cpu), u32::try_from(i)) else {
            continue;
        };
        if seen.contains(&cpu) {
            continue;
        }
        seen.push(cpu);
        p.push(libc::sock_filter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: cpu,
        });
        p.push(libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: i,
        });
    }
    p.push(libc::sock_filter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: NO_SOCKET,
    });
    p
}

/// Attaches [`program`]`(cpus)` to the reuseport group of `sock`.
///
/// # Errors
/// The kernel's refusal (no SO_REUSEPORT on the socket, a kernel before 4.5).
pub fn attach(sock: &impl AsRawFd, cpus: &[usize]) -> std::io::Result<()> {
    let code = program(cpus);
    let prog = libc::sock_fprog {
        len: u16::try_from(code.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?,
        filter: code.as_ptr().cast_mut(),
    };
    #[allow(unsafe_code)] // setsockopt(2) with a struct neither libc nor socket2 wraps
    // SAFETY: `prog` and the instructions it points at live until the call
    // returns; the length passed is `prog`'s own size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&raw const prog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs dns64d may run on (its affinity mask), in order; empty when
/// the mask cannot be read.
pub fn allowed_cpus() -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
/// The kernel's refusal (a CPU outside a cpuset, say).
pub fn pin_current_thread(cpu: usize) -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a program of [`program`]'s instructions as the kernel would
    /// for a packet arriving on `cpu`.
    fn run(p: &[libc::sock_filter], cpu: u32) -> Option<u32> {
        let (mut a, mut pc) = (0u32, 0usize);
        while let Some(i) = p.get(pc) {
            pc += 1;
            match i.code {
                LD_W_ABS if i.k == AD_CPU => a = cpu,
                JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                RET_K => return Some(i.k),
                _ => return None,
            }
        }
        None
    }

    #[test]
    fn a_query_goes_to_the_reader_of_its_cpu() {
        let p = program(&[0, 1]);
        assert_eq!(run(&p, 0), Some(0));
        assert_eq!(run(&p, 1), Some(1));
        // No reader on CPU 2: past the group, the kernel's hash decides.
        assert_eq!(run(&p, 2), Some(NO_SOCKET));
    }

    #[test]
    fn readers_on_a_narrowed_mask_are_found_by_position() {
        let p = program(&[2, 5]);
        assert_eq!(run(&p, 2), Some(0));
        assert_eq!(run(&p, 5), Some(1));
        assert_eq!(run(&p, 0), Some(NO_SOCKET));
    }

    #[test]
    fn the_program_stays_within_classic_bpf_limits() {
        let cpus: Vec<usize> = (0..5000).collect();
        let p = program(&cpus);
        assert!(p.len() <= 4096, "{}", p.len());
        assert_eq!(run(&p, 1999), Some(1999));
        assert_eq!(run(&p, 2000), Some(NO_SOCKET));
    }

    #[test]
    fn the_kernel_takes_the_program_on_a_reuseport_group() {
        use socket2::{Domain, Socket, Type};
        let a = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        a.set_reuse_port(true).unwrap();
        a.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        attach(&a, &[0, 1]).unwrap();
        // Without SO_REUSEPORT there is no group: refused, not ignored.
        let b = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        b.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        assert!(attach(&b, &[0, 1]).is_err());
    }
}
