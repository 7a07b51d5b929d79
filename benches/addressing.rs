//! Per-packet addressing costs: RFC 6052 embed/extract under the fastest
//! (/96) and slowest-shaped (/40, split around the u octet) prefixes, the
//! prefix-table lookup a translator does per packet, and the req A3 check.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use common::config::{GatewayFile, parse};
use common::{Nat64Prefix, WELL_KNOWN_PREFIX, embed, embeddable, extract};
use criterion::{Criterion, criterion_group, criterion_main};

fn addressing(c: &mut Criterion) {
    let v4 = Ipv4Addr::new(203, 0, 113, 10);
    let p40: Nat64Prefix = "2001:db8:100::/40".parse().expect("valid prefix");
    for (name, prefix) in [("96", WELL_KNOWN_PREFIX), ("40", p40)] {
        let v6 = embed(&prefix, v4);
        c.bench_function(&format!("embed /{name}"), |b| {
            b.iter(|| embed(black_box(&prefix), black_box(v4)))
        });
        c.bench_function(&format!("extract /{name}"), |b| {
            b.iter(|| extract(black_box(&prefix), black_box(v6)))
        });
    }

    let cfg: GatewayFile = parse(
        "bench",
        "[prefix]\nprefixes = [\"2001:db8:100::/40\", \"64:ff9b:1::/48\", \"64:ff9b::/96\"]\n",
    )
    .expect("valid config");
    let last: Ipv6Addr = embed(&WELL_KNOWN_PREFIX, v4);
    c.bench_function("prefix table extract, 3 prefixes, last matches", |b| {
        b.iter(|| cfg.prefix.extract(black_box(last)))
    });

    c.bench_function("A3 embeddable, global address (full table scan)", |b| {
        b.iter(|| {
            embeddable(
                &WELL_KNOWN_PREFIX,
                black_box(Ipv4Addr::new(93, 184, 216, 34)),
                false,
            )
        })
    });
}

criterion_group!(benches, addressing);
criterion_main!(benches);
