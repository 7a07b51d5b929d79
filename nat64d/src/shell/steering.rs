//! TUN queue steering by arrival CPU: a packet the kernel hands to the TUN
//! on CPU `c` goes to the queue of the worker pinned to `c`, so the worker
//! is woken on the CPU the packet is already on (no cross-CPU wake-up, the
//! packet's cache lines stay warm) and its translation leaves from that
//! CPU too. Without it the kernel picks the queue by the flow's hash
//! (`tun_automq_select_queue`), and a pinned worker on the other CPU must
//! be woken across CPUs for every packet: that wake-up was the tail of
//! nat64d's latency with `nat64.pin_workers` (docs/performance.md).
//!
//! The kernel runs a socket-filter BPF program for each packet
//! (`TUNSETSTEERINGEBPF`, Linux 4.16) and takes its return value modulo the
//! number of queues. The program is built here from the workers' CPUs
//! ([`program`], pure and unit-tested) and loaded with the `bpf(2)` system
//! call ([`attach`]); it needs `CAP_BPF` (or `CAP_SYS_ADMIN`) to load.
//! When it cannot be loaded, the kernel's flow-hash choice stays and the
//! start-up log says why.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One BPF instruction (`struct bpf_insn`): opcode, registers, offset,
/// immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

/// Opcodes used here (linux/bpf.h, linux/bpf_common.h).
mod op {
    pub(super) const CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
    pub(super) const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
    pub(super) const JA: u8 = 0x05; // BPF_JMP | BPF_JA
    pub(super) const JEQ: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    pub(super) const JNE: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
    pub(super) const JLE: u8 = 0xb5; // BPF_JMP | BPF_JLE | BPF_K
    pub(super) const MOV: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
    pub(super) const MOV_REG: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
    pub(super) const XOR_REG: u8 = 0xaf; // BPF_ALU64 | BPF_XOR | BPF_X
    pub(super) const AND: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
    pub(super) const MUL: u8 = 0x27; // BPF_ALU64 | BPF_MUL | BPF_K
    pub(super) const LSH: u8 = 0x67; // BPF_ALU64 | BPF_LSH | BPF_K
    pub(super) const RSH: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
    pub(super) const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W (the context)
    pub(super) const LD_ABS_W: u8 = 0x20; // BPF_LD | BPF_ABS | BPF_W (the packet)
    pub(super) const LD_ABS_B: u8 = 0x30; // BPF_LD | BPF_ABS | BPF_B
    pub(super) const LD_IND_W: u8 = 0x40; // BPF_LD | BPF_IND | BPF_W
}

/// The multiplier of the flow hash: odd, below 2^31 (the immediate is
/// sign-extended), its bits spread (Fibonacci hashing's golden ratio,
/// 2^31 / φ, made odd).
const MIX: i32 = 0x4f1b_bcdd;

/// `bpf_get_smp_processor_id`.
const FUNC_CPU: i32 = 8;
/// Offset of `len` in `struct __sk_buff`.
const SKB_LEN: i16 = 0;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

impl Insn {
    /// The instruction as the kernel reads it (little- or big-endian host).
    fn bytes(self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.dst & 0x0f) | (self.src << 4)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        };
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// Registers: r0 result and scratch, r1 the context on entry, r2 an
/// index; r6 the context (packet loads need it there), r7 the CPU, r8 the
/// flow hash, r9 the transport protocol.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;

/// A program under construction, with forward jumps patched by label.
#[derive(Default)]
struct Asm {
    code: Vec<Insn>,
    /// (instruction index, label) of jumps to patch.
    jumps: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn push(&mut self, i: Insn) {
        self.code.push(i);
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn jump(&mut self, code: u8, dst: u8, imm: i32, to: usize) {
        self.jumps.push((self.code.len(), to));
        self.push(insn(code, dst, 0, 0, imm));
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, l) in self.jumps {
            let to = self.labels[l].expect("every label is placed");
            self.code[at].off = i16::try_from(to as isize - at as isize - 1).unwrap_or(i16::MAX);
        }
        self.code
    }
}

/// The steering program for workers pinned to `cpus` (worker `i`, and its
/// queue `i`, on `cpus[i]`), on a TUN device of MTU `mtu`:
///
/// - a packet of at most `mtu` bytes goes to the queue of the worker on
///   the CPU it arrives on (the first, if two share it); on a CPU with no
///   worker, the program returns the CPU number, which the kernel takes
///   modulo the number of queues;
/// - a super-packet (longer than `mtu`: the kernel's segmentation
///   offload, which only bulk transfers fill) goes to a queue chosen by its
///   flow (addresses, and ports for TCP and UDP): a bulk flow is then
///   translated on one CPU while its sender and receiver run on the
///   others, as the kernel's own flow-hash choice does, instead of
///   sharing the CPU of whatever produced it.
///
/// The CPU table is three instructions per CPU, far below the verifier's
/// limits.
pub(crate) fn program(cpus: &[usize], mtu: u16) -> Vec<Insn> {
    let mut a = Asm::default();
    let (by_cpu, v6, mix) = (a.label(), a.label(), a.label());
    a.push(insn(op::MOV_REG, R6, R1, 0, 0));
    a.push(insn(op::CALL, 0, 0, 0, FUNC_CPU));
    a.push(insn(op::MOV_REG, R7, R0, 0, 0));
    a.push(insn(op::LDX_W, R0, R6, SKB_LEN, 0));
    a.jump(op::JLE, R0, i32::from(mtu), by_cpu);
    // A super-packet: hash its flow. The version nibble first.
    a.push(insn(op::LD_ABS_B, 0, 0, 0, 0));
    a.push(insn(op::RSH, R0, 0, 0, 4));
    a.jump(op::JEQ, R0, 6, v6);
    a.jump(op::JNE, R0, 4, by_cpu);
    // IPv4: source ^ destination, the protocol, ports after IHL words.
    a.push(insn(op::LD_ABS_W, 0, 0, 0, 12));
    a.push(insn(op::MOV_REG, R8, R0, 0, 0));
    a.push(insn(op::LD_ABS_W, 0, 0, 0, 16));
    a.push(insn(op::XOR_REG, R8, R0, 0, 0));
    a.push(insn(op::LD_ABS_B, 0, 0, 0, 9));
    a.push(insn(op::MOV_REG, R9, R0, 0, 0));
    a.push(insn(op::LD_ABS_B, 0, 0, 0, 0));
    a.push(insn(op::AND, R0, 0, 0, 0x0f));
    a.push(insn(op::LSH, R0, 0, 0, 2));
    a.push(insn(op::MOV_REG, R2, R0, 0, 0));
    let (ports4, ports) = (a.label(), a.label());
    a.jump(op::JEQ, R9, 6, ports4);
    a.jump(op::JNE, R9, 17, mix);
    a.here(ports4);
    a.push(insn(op::LD_IND_W, 0, R2, 0, 0));
    a.jump(op::JA, 0, 0, ports);
    // IPv6: the eight words of both addresses, the next header, ports at
    // 40 (extension headers are not followed: their flows hash by address).
    a.here(v6);
    a.push(insn(op::LD_ABS_W, 0, 0, 0, 8));
    a.push(insn(op::MOV_REG, R8, R0, 0, 0));
    for off in (12..40).step_by(4) {
        a.push(insn(op::LD_ABS_W, 0, 0, 0, off));
        a.push(insn(op::XOR_REG, R8, R0, 0, 0));
    }
    a.push(insn(op::LD_ABS_B, 0, 0, 0, 6));
    a.push(insn(op::MOV_REG, R9, R0, 0, 0));
    let ports6 = a.label();
    a.jump(op::JEQ, R9, 6, ports6);
    a.jump(op::JNE, R9, 17, mix);
    a.here(ports6);
    a.push(insn(op::LD_ABS_W, 0, 0, 0, 40));
    a.here(ports);
    a.push(insn(op::XOR_REG, R8, R0, 0, 0));
    // Mix the 32 bits into the 16 the kernel keeps (it takes the result
    // modulo the number of queues): multiply by an odd constant and keep
    // the product's top bits, each of which depends on every input bit.
    // (Folding by XOR left the low bits to a few input bits: Linux gives
    // connect() even ports, so a host's parallel streams, consecutive even
    // ports, all landed in one queue of two.)
    a.here(mix);
    a.push(insn(op::MOV_REG, R0, R8, 0, 0));
    a.push(insn(op::MUL, R0, 0, 0, MIX));
    a.push(insn(op::RSH, R0, 0, 0, 47));
    a.push(insn(op::AND, R0, 0, 0, 0xffff));
    a.push(insn(op::EXIT, 0, 0, 0, 0));
    // By CPU.
    a.here(by_cpu);
    a.push(insn(op::MOV_REG, R0, R7, 0, 0));
    let mut seen = Vec::new();
    for (queue, &cpu) in cpus.iter().enumerate() {
        if seen.contains(&cpu) {
            continue;
        }
        seen.push(cpu);
        let (Ok(cpu), Ok(queue)) = (i32::try_from(cpu), i32::try_from(queue)) else {
            continue;
        };
        a.push(insn(op::JNE, R0, 0, 2, cpu));
        a.push(insn(op::MOV, R0, 0, 0, queue));
        a.push(insn(op::EXIT, 0, 0, 0, 0));
    }
    a.push(insn(op::EXIT, 0, 0, 0, 0));
    a.finish()
}

/// What [`program`] makes of `packet` (its first bytes; `len` in all)
/// arriving on `cpu` with `queues` queues: the queue it lands in. Runs
/// the instructions as the kernel would, for the tests; `None` for an
/// instruction it does not know or a jump outside the program.
#[cfg(test)]
fn run(p: &[Insn], cpu: u32, packet: &[u8], len: u32, queues: u32) -> Option<u32> {
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    let load = |at: usize, n: usize| -> Option<u64> {
        let b = packet.get(at..at + n)?;
        Some(b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
    };
    for _ in 0..10_000 {
        let i = *p.get(pc)?;
        pc += 1;
        let (d, s, imm) = (usize::from(i.dst), usize::from(i.src), i.imm as i64 as u64);
        let jump = |taken: bool| if taken { isize::from(i.off) } else { 0 };
        let mut skip = 0isize;
        match i.code {
            op::CALL => r[0] = u64::from(cpu),
            op::EXIT => return Some((r[0] as u32 & 0xffff) % queues.max(1)),
            op::JA => skip = isize::from(i.off),
            op::JEQ => skip = jump(r[d] == imm),
            op::JNE => skip = jump(r[d] != imm),
            op::JLE => skip = jump(r[d] <= imm),
            op::MOV => r[d] = imm,
            op::MOV_REG => r[d] = r[s],
            op::XOR_REG => r[d] ^= r[s],
            op::AND => r[d] &= imm,
            op::MUL => r[d] = r[d].wrapping_mul(imm),
            op::LSH => r[d] <<= imm,
            op::RSH => r[d] >>= imm,
            op::LDX_W if s == 6 && i.off == SKB_LEN => r[d] = u64::from(len),
            // A load beyond the packet ends the program with 0.
            op::LD_ABS_W => {
                r[0] = load(i.imm as usize, 4).unwrap_or_else(|| return_zero(&mut pc, p))
            }
            op::LD_ABS_B => {
                r[0] = load(i.imm as usize, 1).unwrap_or_else(|| return_zero(&mut pc, p))
            }
            op::LD_IND_W => {
                r[0] = load(r[s] as usize + i.imm as usize, 4)
                    .unwrap_or_else(|| return_zero(&mut pc, p))
            }
            _ => return None,
        }
        if matches!(
            i.code,
            op::CALL | op::LD_ABS_W | op::LD_ABS_B | op::LD_IND_W
        ) {
            r[1..6].fill(0);
        }
        pc = pc.checked_add_signed(skip)?;
    }
    None
}

/// A packet load out of bounds: the kernel returns 0 from the program.
#[cfg(test)]
fn return_zero(pc: &mut usize, p: &[Insn]) -> u64 {
    *pc = p.len() - 1; // the final exit, with r0 = 0
    0
}

/// `TUNSETSTEERINGEBPF`: `_IOR('T', 224, int)`.
const TUNSETSTEERINGEBPF: libc::c_ulong = 0x8004_54e0;
/// `BPF_PROG_LOAD` and `BPF_PROG_TYPE_SOCKET_FILTER`.
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD` (the kernel
/// accepts a shorter attribute than its own, zero-extended).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// Loads [`program`]`(cpus, mtu)` and attaches it to the TUN device through
/// `queue` (one of its queues: the program is the device's). The program
/// stays with the device; the returned descriptor may be dropped.
pub(crate) fn attach(queue: &impl AsRawFd, cpus: &[usize], mtu: u16) -> std::io::Result<()> {
    let prog = load(&program(cpus, mtu))?;
    let fd: libc::c_int = prog.as_raw_fd();
    #[allow(unsafe_code)] // ioctl(2) on the TUN descriptor, with a pointer to a live int
    // SAFETY: TUNSETSTEERINGEBPF reads one int through the pointer, which
    // points at `fd` for the duration of the call.
    let rc = unsafe { libc::ioctl(queue.as_raw_fd(), TUNSETSTEERINGEBPF, &fd) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `bpf(BPF_PROG_LOAD)` of a socket-filter program; the verifier's log is
/// in the error when it refuses.
fn load(p: &[Insn]) -> std::io::Result<OwnedFd> {
    let code: Vec<u8> = p.iter().flat_map(|i| i.bytes()).collect();
    let license = c"GPL";
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: u32::try_from(p.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..ProgLoad::default()
    };
    attr.prog_name[..12].copy_from_slice(b"nat64d_steer");
    #[allow(unsafe_code)] // bpf(2) has no wrapper in libc or nix
    // SAFETY: `attr` and the buffers it points at (`code`, `license`, `log`)
    // live until the call returns; the size passed is `attr`'s own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &mut attr as *mut ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        let said = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
            .trim()
            .to_string();
        return Err(if said.is_empty() {
            e
        } else {
            std::io::Error::new(e.kind(), format!("{e}; verifier: {said}"))
        });
    }
    let fd = libc::c_int::try_from(rc).map_err(|_| std::io::ErrorKind::InvalidData)?;
    #[allow(unsafe_code)] // the descriptor bpf(2) just returned, owned by nobody else
    // SAFETY: `fd` is a new, open descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MTU: u16 = 1500;

    /// A small IPv6/TCP packet's first 44 bytes, with `src` as the last
    /// byte of the source address and source port `sport`.
    fn v6(src: u8, sport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 44];
        p[0] = 0x60;
        p[6] = 6;
        p[23] = src;
        p[24..28].copy_from_slice(&[0, 0x64, 0xff, 0x9b]);
        p[39] = 10;
        p[40..42].copy_from_slice(&sport.to_be_bytes());
        p[42..44].copy_from_slice(&80u16.to_be_bytes());
        p
    }

    /// An IPv4/UDP packet with IHL `ihl` words.
    fn v4(ihl: u8, sport: u16) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(ihl) * 4 + 8];
        p[0] = 0x40 | ihl;
        p[9] = 17;
        p[12..16].copy_from_slice(&[203, 0, 113, 10]);
        p[16..20].copy_from_slice(&[198, 51, 100, 1]);
        let at = usize::from(ihl) * 4;
        p[at..at + 2].copy_from_slice(&sport.to_be_bytes());
        p
    }

    #[test]
    fn a_packet_lands_in_the_queue_of_the_worker_on_its_cpu() {
        let p = program(&[0, 1], MTU);
        for pkt in [v6(2, 40000), v4(5, 53)] {
            assert_eq!(run(&p, 0, &pkt, 100, 2), Some(0));
            assert_eq!(run(&p, 1, &pkt, 100, 2), Some(1));
            // A CPU with no worker: its number modulo the queues.
            assert_eq!(run(&p, 3, &pkt, 100, 2), Some(1));
            assert_eq!(run(&p, 1, &pkt, u32::from(MTU), 2), Some(1));
        }
    }

    #[test]
    fn a_narrowed_mask_maps_by_position_not_by_number() {
        // `taskset -c 3,4` with two workers: CPU 3 has worker 0.
        let p = program(&[3, 4], MTU);
        assert_eq!(run(&p, 3, &v6(2, 1), 60, 2), Some(0));
        assert_eq!(run(&p, 4, &v6(2, 1), 60, 2), Some(1));
        // Two workers on one CPU: the first.
        let p = program(&[1, 1], MTU);
        assert_eq!(run(&p, 1, &v6(2, 1), 60, 2), Some(0));
    }

    #[test]
    fn a_super_packet_goes_by_its_flow_whatever_the_cpu() {
        let p = program(&[0, 1, 2, 3], MTU);
        let mut queues = std::collections::HashSet::new();
        for sport in 40000..40064 {
            for pkt in [v6(2, sport), v4(5, sport), v4(7, sport)] {
                let q: Vec<_> = (0..4).map(|cpu| run(&p, cpu, &pkt, 65000, 4)).collect();
                assert!(q.iter().all(|&x| x == q[0] && x.is_some()), "{q:?}");
                queues.insert(q[0]);
            }
        }
        // Flows spread over every queue.
        assert_eq!(queues.len(), 4);
        // The ports count: two flows of one host part.
        let (a, b) = (v6(2, 40000), v6(2, 40001));
        assert_ne!(run(&p, 0, &a, 65000, 4), run(&p, 0, &b, 65000, 4));
    }

    /// Linux's connect() takes even ports, one after another: a host's
    /// parallel streams differ in a few bits of the source port, and each
    /// of those flows must still land at random.
    #[test]
    fn parallel_streams_on_even_ports_spread_over_the_queues() {
        for queues in [2u32, 4] {
            let cpus: Vec<usize> = (0..queues as usize).collect();
            let p = program(&cpus, MTU);
            for (name, pkt) in [
                ("v6", v6 as fn(u8, u16) -> Vec<u8>),
                ("v4", |_, sport| v4(5, sport)),
            ] {
                let mut per = vec![0u32; queues as usize];
                let mut alike = 0;
                for start in (32768u16..60000).step_by(1000) {
                    let q: Vec<u32> = (0..4)
                        .map(|k| run(&p, 0, &pkt(2, start + 2 * k), 65000, queues).unwrap())
                        .collect();
                    q.iter().for_each(|&x| per[x as usize] += 1);
                    alike += u32::from(q.iter().all(|&x| x == q[0]));
                }
                // 28 groups of four streams: about 28 / 8 (two queues) or
                // 28 / 64 (four) would have all four in one queue at random.
                assert!(
                    alike <= 10,
                    "{name}, {queues} queues: {alike} of 28 groups in one queue"
                );
                let even = 28 * 4 / queues;
                assert!(
                    per.iter().all(|&n| n >= even / 2 && n <= even * 3 / 2),
                    "{name}: {per:?}"
                );
            }
        }
    }

    #[test]
    fn a_short_or_strange_super_packet_never_fails() {
        let p = program(&[0, 1], MTU);
        // Cut short: the kernel ends the program with 0.
        assert_eq!(run(&p, 1, &v6(2, 1)[..20], 65000, 2), Some(0));
        // Neither version: by CPU.
        assert_eq!(run(&p, 1, &[0x10; 60], 65000, 2), Some(1));
        // Not TCP or UDP: by addresses only.
        let mut icmp = v6(2, 1);
        icmp[6] = 58;
        assert!(run(&p, 1, &icmp, 65000, 2).is_some());
    }

    #[test]
    fn every_jump_stays_inside_and_the_program_ends_in_exit() {
        let p = program(&(0..256).collect::<Vec<_>>(), MTU);
        assert_eq!(p.last().map(|i| i.code), Some(op::EXIT));
        for (i, insn) in p.iter().enumerate() {
            if matches!(insn.code, op::JA | op::JEQ | op::JNE | op::JLE) {
                let to = i as isize + 1 + isize::from(insn.off);
                assert!(to > i as isize && (to as usize) < p.len(), "{i}: {insn:?}");
            }
        }
        assert!(p.len() < 4096, "{} instructions", p.len());
        for cpu in 0..256 {
            assert_eq!(run(&p, cpu, &v6(2, 1), 60, 256), Some(cpu));
        }
    }

    /// The kernel's verifier takes the program (it refuses, for one, an
    /// unreachable instruction or a jump out of it) for one CPU, two, a
    /// narrowed mask and many. Needs CAP_BPF: skipped without it.
    #[test]
    fn the_kernel_verifier_accepts_the_program() {
        for cpus in [vec![0], vec![0, 1], vec![3, 4], (0..64).collect()] {
            match load(&program(&cpus, MTU)) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => return,
                Err(e) => panic!("{cpus:?}: {e}"),
            }
        }
    }

    #[test]
    fn instructions_are_encoded_as_the_kernel_reads_them() {
        if cfg!(target_endian = "little") {
            let call = insn(op::CALL, 0, 0, 0, FUNC_CPU);
            assert_eq!(call.bytes(), [0x85, 0, 0, 0, 8, 0, 0, 0]);
            assert_eq!(insn(op::MOV_REG, R6, R1, 0, 0).bytes()[..2], [0xbf, 0x16]);
            assert_eq!(insn(op::JNE, R0, 0, 2, 5).bytes()[..4], [0x55, 0, 2, 0]);
            assert_eq!(insn(op::LD_IND_W, 0, R2, 0, 0).bytes()[..2], [0x40, 0x20]);
        }
    }
}
