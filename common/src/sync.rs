//! The one lock helper of the workspace.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, going on through poisoning: a thread that panicked while
/// holding the lock cannot leave our maps and queues in a state they cannot
/// survive (every update is a whole-value insert or remove), so the daemon
/// keeps serving rather than cascade the panic to every thread.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
