//! The dns64d binary: command line and configuration loading.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// DNS64 server of the nat64gw gateway (RFC 6147, RFC 8880).
///
/// Reads the shared `[prefix]` section and its own `[dns64]` section of the
/// gateway configuration file. This version validates the configuration
/// (`--check-config`); it does not answer queries yet.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The gateway configuration file (TOML), shared with nat64d.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/nat64gw/gateway.toml"
    )]
    config: PathBuf,
    /// Validate the configuration file, print a summary and exit: status 0
    /// when it is valid, 1 with the file, line, key and problem otherwise.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match dns64d::config::load(&args.config) {
        Ok(cfg) => cfg,
        Err(err) => {
            eprintln!("dns64d: {err}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        let d = &cfg.dns64;
        let list = |v: Vec<String>| v.join(", ");
        println!(
            "{}: configuration OK; {}; listen {}; upstreams {}; allow_from {}",
            args.config.display(),
            cfg.prefix.summary(),
            list(d.listen.iter().map(|a| a.to_string()).collect()),
            list(d.upstreams.iter().map(|a| a.to_string()).collect()),
            list(d.allow_from.iter().map(|a| a.to_string()).collect()),
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "dns64d {}: this version validates the configuration only (--check-config); \
         the DNS64 server is not implemented yet",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
