//! The command line through the real binary: --version, --help, --check-config.

const BIN: &str = env!("CARGO_BIN_EXE_nat64d");
const NAME: &str = "nat64d";

include!("../../tests/support/daemon_cli.rs");
