//! The man pages of nat64d, dns64d and nat64gw, made from the same clap
//! definitions as their `--help` (clap_mangen), so that the two never
//! drift: each binary prints its own (`nat64d --man`, `dns64d --man`,
//! `nat64gw man`; hidden options, for packaging: docs/deploy.md).

use std::io::Write;
use std::process::ExitCode;

/// Writes the man page of `cmd` (section 8: system administration) to
/// standard output.
pub fn print(cmd: clap::Command) -> ExitCode {
    let mut page = Vec::new();
    let made = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("nat64gw")
        .render(&mut page);
    if made.is_err() || std::io::stdout().write_all(&page).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
