//! req A4 through the public API: one gateway file, read by both daemons,
//! each with its own typed section and the other's kept opaque, both seeing
//! the same prefix table. Errors in a daemon's own section name its keys.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use common::config::{GatewayFile, load};
use serde::Deserialize;

/// Stand-ins for the daemons' own sections, shaped like theirs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nat64Section {
    tun: String,
    pool4: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dns64Section {
    listen: Vec<String>,
}

type AsNat64d = GatewayFile<Nat64Section, toml::Table>;
type AsDns64d = GatewayFile<toml::Table, Dns64Section>;

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nat64gw-shared-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

const GOOD: &str = r#"
[prefix]
prefixes = ["64:ff9b::/96", "2001:db8:64::/96"]
allow_non_global = true

[nat64]
tun = "nat64"
pool4 = ["198.51.100.0/28"]

[dns64]
listen = ["[::]:53"]
"#;

#[test]
fn a4_both_daemons_see_one_prefix_table() {
    let path = file("good.toml", GOOD);
    let nat: AsNat64d = load(&path).expect("nat64d view");
    let dns: AsDns64d = load(&path).expect("dns64d view");
    assert_eq!(nat.prefix, dns.prefix);
    assert_eq!(nat.nat64.tun, "nat64");
    assert_eq!(nat.nat64.pool4, ["198.51.100.0/28"]);
    assert_eq!(dns.dns64.listen, ["[::]:53"]);
    // The translator's extract and the DNS64 embed use the same table.
    let v4 = Ipv4Addr::new(203, 0, 113, 10);
    for prefix in dns.prefix.prefixes.iter() {
        let synthesised = common::embed(prefix, v4);
        assert_eq!(nat.prefix.extract(synthesised), Some((prefix, v4)));
    }
}

#[test]
fn a4_a_daemon_names_keys_of_its_own_section() {
    let path = file("typo.toml", &GOOD.replace("tun = ", "tunnel = "));
    let err = load::<AsNat64d>(&path)
        .expect_err("typo must be refused")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:7:1: key `nat64.tunnel`: unknown key",
            path.display()
        )),
        "{err}"
    );
    // dns64d keeps [nat64] opaque: nat64d is the one to refuse it.
    load::<AsDns64d>(&path).expect("dns64d does not interpret [nat64]");
}

#[test]
fn a4_a_bad_prefix_is_refused_by_both() {
    let path = file(
        "bad-prefix.toml",
        &GOOD.replace("2001:db8:64::/96", "2001:db8:64::/97"),
    );
    for err in [
        load::<AsNat64d>(&path).expect_err("nat64d").to_string(),
        load::<AsDns64d>(&path).expect_err("dns64d").to_string(),
    ] {
        assert!(err.contains(":3:"), "{err}");
        assert!(
            err.contains("key `prefix.prefixes[1]`: `2001:db8:64::/97` has length /97"),
            "{err}"
        );
    }
}
