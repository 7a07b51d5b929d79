//! `nat64gw check FILE`: both daemons' own checks of the gateway file at
//! once (what `nat64d --check-config` and `dns64d --check-config` say),
//! each daemon's errors and warnings under its name.

use std::path::Path;

use common::outln;
use std::process::ExitCode;

/// Checks `file`; status 0 when both daemons would start with it.
pub(crate) fn run(file: &Path) -> ExitCode {
    let mut ok = true;
    match load_nat64(file) {
        Ok(f) => {
            let c = &f.nat64;
            outln!(
                "nat64d: OK; {}; pool4 {}; {}",
                f.prefix.summary(),
                c.pool4
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                c.limits_summary()
            );
            for w in c.limits_warnings() {
                outln!("nat64d: warning: {w}");
            }
            if let Some(e) = c.placeholder_pool(f.prefix.allow_non_global) {
                outln!("nat64d: warning: {e}; nat64d will not start with it");
            }
        }
        Err(e) => {
            ok = false;
            for line in e.lines() {
                outln!("nat64d: {line}");
            }
        }
    }
    match dns64d::config::load(file) {
        Ok(f) => {
            let d = &f.dns64;
            let list = |v: &[std::net::SocketAddr]| {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            outln!(
                "dns64d: OK; listen {}; upstreams {}",
                list(&d.listen),
                list(&d.upstreams)
            );
            if let Some(e) = d.placeholder_upstream(f.prefix.allow_non_global) {
                outln!("dns64d: warning: {e}; dns64d will not start with it");
            }
        }
        Err(e) => {
            ok = false;
            for line in e.to_string().lines() {
                outln!("dns64d: {line}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn load_nat64(file: &Path) -> Result<nat64d::config::File, String> {
    let (f, parsed): (nat64d::config::File, _) =
        common::config::load_lenient(file).map_err(|e| e.to_string())?;
    let checked = f.nat64.validate_all(&file.display().to_string(), &f.prefix);
    common::config::report_all(parsed, checked)?;
    Ok(f)
}
