//! Standard output that ends quietly when its reader goes away, as the
//! usual Unix tools do (`nat64gw stats | head`, `nat64d --check-config |
//! head -1`): a closed pipe ends the command with status 0 instead of a
//! panic; any other write error is reported on standard error and ends it
//! with status 1. For the commands' printed answers, not for the daemons'
//! logs.

use std::io::{ErrorKind, Write};

/// Writes `args` to standard output and flushes it.
pub fn emit(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `print!` through [`emit`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::stdout::emit(format_args!($($t)*)) };
}

/// `println!` through [`emit`].
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::stdout::emit(format_args!("{}\n", format_args!($($t)*))) };
}
