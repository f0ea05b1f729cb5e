//! Process-wide settings of the sandbox: how the one engine compiles, meters and allocates.

use std::path::PathBuf;
use std::time::Duration;

/// Settings that hold for every connector a [`Runtime`](crate::Runtime) runs.
///
/// Per-connector knobs (fuel, memory, deadline, ...) live in
/// [`Limits`](crate::Limits); the values here shape the engine itself and
/// therefore cannot change without building a new runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Meter guest code with fuel, so that [`Limits::fuel`](crate::Limits::fuel)
    /// is enforced and the call report carries the fuel consumed.
    ///
    /// Fuel is deterministic (the same call burns the same fuel on any
    /// machine), which is what makes it a fair budget; it costs some guest
    /// speed, which is why it can be turned off. Deadlines are enforced either
    /// way. Default: `true`.
    pub fuel_metering: bool,
    /// Allocate instances from a pool of pre-reserved slots instead of
    /// mapping memory for every call.
    ///
    /// Pooling turns instantiation into a few microseconds of bookkeeping and
    /// lets linear memory stay resident between calls (reset copy-on-write),
    /// at the price of reserving address space up front for
    /// [`max_concurrent_calls`](Self::max_concurrent_calls) instances.
    /// Default: `true`.
    pub pooling: bool,
    /// How many calls may run at once; with pooling, the pool is sized for
    /// this many instances and a call beyond it fails with
    /// [`CallError::Capacity`](crate::CallError::Capacity). Default: `1000`.
    pub max_concurrent_calls: u32,
    /// How many calls of one connector may run at once; a call beyond it
    /// fails with [`CallError::Capacity`](crate::CallError::Capacity), so
    /// that one connector with a slow backend cannot take every slot from
    /// the others. Default: `250` (a quarter of the default pool).
    pub max_calls_per_connector: u32,
    /// The linear memory, in bytes, all calls in flight may hold together.
    /// Each call's memory counts as it grows; growth past the budget fails
    /// that call with [`CallError::Capacity`](crate::CallError::Capacity)
    /// (a host answers 503, try again), whatever the call's own limit. With
    /// the defaults, 32 calls at the 64 MiB per-call limit, or thousands of
    /// small calls, fit. Default: 2 GiB.
    pub max_total_memory_bytes: u64,
    /// The most linear memory, in bytes, any connector may be granted with
    /// [`Limits::memory_bytes`](crate::Limits::memory_bytes). Default: 128 MiB.
    pub max_memory_bytes: u64,
    /// The largest component of compiled code (a Rust guest, say) accepted,
    /// in bytes. Default: 4 MiB.
    pub max_code_bytes: usize,
    /// The largest component accepted that carries a language runtime (a
    /// JavaScript or Python guest, see [`GuestKind`](crate::GuestKind)), in
    /// bytes. The interpreter is most of it: StarlingMonkey makes a
    /// JavaScript guest about 12 MB and CPython a Python guest about
    /// 18 MB, while the author's script inside is held to the platform's
    /// 1 MB when it is built. Default: 40 MiB.
    pub max_interpreter_code_bytes: usize,
    /// The most WebAssembly stack one call may use, in bytes; deeper
    /// recursion traps with a stack overflow. Default: 512 KiB.
    pub max_wasm_stack: usize,
    /// How often the deadline clock ticks. A call is stopped within one tick
    /// of its deadline, and guest code yields its thread to other calls once
    /// per tick. Default: 10 ms.
    pub epoch_tick: Duration,
    /// Linear memory kept resident (not returned to the OS) per pool slot
    /// between calls, in bytes. Pages kept are reset in place (zeroed, or
    /// copied back from the code's data image) when a call ends, so the next
    /// call in the slot takes no page faults; pages beyond are returned to
    /// the OS and faulted in again when touched.
    ///
    /// On Linux 6.7 and later only the pages a call dirtied are reset (found
    /// with the `PAGEMAP_SCAN` ioctl), up to this many bytes, so a generous
    /// value costs nothing per call; elsewhere the first this-many bytes of
    /// every memory are reset, so it should be close to what a call touches.
    /// Only used with [`pooling`](Self::pooling). Default: 1 MiB.
    pub keep_resident_bytes: usize,
    /// A directory where compiled components are cached, keyed by the hash
    /// of their bytes and the engine's settings, so that a restart or a
    /// reload of unchanged code skips compilation. `None` disables the cache.
    /// The directory must be trusted: its files are loaded as native code.
    /// Default: `None`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            fuel_metering: true,
            pooling: true,
            max_concurrent_calls: 1000,
            max_calls_per_connector: 250,
            max_total_memory_bytes: 2 << 30,
            max_memory_bytes: 128 << 20,
            max_code_bytes: 4 << 20,
            max_interpreter_code_bytes: 40 << 20,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(10),
            keep_resident_bytes: 1 << 20,
            cache_dir: None,
        }
    }
}
