//! Umbrella package of the nat64gw workspace: it holds the workspace-level
//! integration tests (`tests/`) and criterion benchmarks (`benches/`). The
//! gateway itself is the `nat64d` and `dns64d` binaries; the shared
//! addressing code is re-exported here for the tests and benchmarks.

pub use common;
pub use nat64d;
