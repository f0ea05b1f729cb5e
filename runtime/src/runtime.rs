//! The process-wide [`Runtime`]: the one owner of the wasmtime engine, its linker and the epoch clock.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::bindings;
use crate::config::RuntimeConfig;
use crate::connector::{self, Connector, LoadOptions};
use crate::error::{EngineError, LoadError, RuntimeError};
use crate::limits::Limits;
use crate::state::{CallState, MemoryBudget};

/// Core instances one component may hold. A Rust guest built for
/// `wasm32-wasip2` has its own module plus a few adapter and shim modules;
/// a Python guest links CPython, libc and a dozen shims as modules of
/// their own. The pool counts them for every call in flight at this
/// maximum: counting half, as it once did, let only some 600 Python calls
/// be in flight of the 1,000 the pool is sized for.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memories one component may hold (the guest's and an adapter's).
const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may hold.
const TABLES_PER_COMPONENT: u32 = 4;
/// Table memory reset in place rather than decommitted when a slot is
/// freed, per table. A Rust guest's function table is a page or two.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;
/// Host stack above the guest's WebAssembly stack on each call's fiber, for
/// host functions and wasmtime itself.
const HOST_STACK_BYTES: usize = 1 << 20;

/// Runs connector code. One per process: it owns the engine (compilation
/// settings, the instance pool, the epoch clock) and the linker that
/// provides the contract's imports.
///
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    /// The linear memory all calls of this runtime may hold together.
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine and the linker, and starts the epoch clock.
    ///
    /// With pooling, this reserves address space (not memory) for
    /// [`RuntimeConfig::max_concurrent_calls`] instances.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine =
            Engine::new(&engine_config(&config)).map_err(|e| RuntimeError::Engine { source: EngineError::new(e) })?;
        let mut linker = Linker::new(&engine);
        // The linker offers all of WASI p2; the import check at load admits
        // only the parts the contract allows (no sockets, and a filesystem
        // with no directories), so a component never reaches the rest.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| {
                bindings::Connector::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            })
            .map_err(|e| RuntimeError::Engine { source: EngineError::new(e) })?;
        spawn_epoch_clock(&engine, config.epoch_tick);
        let budget = Arc::new(MemoryBudget::new(config.max_total_memory_bytes));
        Ok(Self { inner: Arc::new(Inner { engine, linker, config, budget }) })
    }

    /// The settings this runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Loads a connector's code: checks its size and kind, compiles it (or
    /// takes it from the cache), checks that it implements the contract and
    /// prepares the instance template every call starts from.
    ///
    /// This is the per-connector step: do it once when the connector loads,
    /// then [`Connector::call`] as often as needed.
    pub fn load(&self, connector_id: &str, code: &[u8], limits: Limits) -> Result<Connector, LoadError> {
        self.load_with(connector_id, code, limits, LoadOptions::default())
    }

    /// [`Runtime::load`] with what the code may use besides its bytes: the
    /// package's assets folder, read-only.
    pub fn load_with(
        &self,
        connector_id: &str,
        code: &[u8],
        limits: Limits,
        options: LoadOptions,
    ) -> Result<Connector, LoadError> {
        let inner = &self.inner;
        let host = connector::Host {
            engine: &inner.engine,
            linker: &inner.linker,
            config: &inner.config,
            budget: &inner.budget,
        };
        connector::load(host, connector_id, code, limits, options)
    }
}

/// The one place where wasmtime is configured; each choice says why.
///
/// The per-call cost (a fresh store and instance for every call) is what
/// these settings are tuned for; `benches/runtime.rs` measures each of them.
fn engine_config(config: &RuntimeConfig) -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    // Connector code is compiled once per load and run for every call, so
    // compile time is worth spending on faster code. (This is wasmtime's
    // default; it is set here so that it stays a decision.)
    cfg.cranelift_opt_level(OptLevel::Speed);
    // Deadlines: a clock thread bumps the epoch, and each call's store traps
    // (or yields to other calls) when its deadline tick comes. Cheaper than
    // fuel, and it bounds wall time, which fuel cannot.
    cfg.epoch_interruption(true);
    // Fuel: a deterministic budget of work per call, reported per call.
    cfg.consume_fuel(config.fuel_metering);
    // Bounded recursion traps cleanly as a stack overflow.
    cfg.max_wasm_stack(config.max_wasm_stack);
    cfg.async_stack_size(config.max_wasm_stack + HOST_STACK_BYTES);
    // Data segments are mapped copy-on-write from the compiled image instead
    // of being copied into every new instance; with pooling the image stays
    // mapped in the slot, and a call's writes to it are undone at reset.
    cfg.memory_init_cow(true);
    if config.pooling {
        let calls = config.max_concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(calls)
            .total_core_instances(calls.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .total_memories(calls.saturating_mul(MEMORIES_PER_COMPONENT))
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .total_tables(calls.saturating_mul(TABLES_PER_COMPONENT))
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_stacks(calls)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
            // Pages a call dirtied stay mapped when its slot is freed, and
            // are reset in place (zeroed, or copied back from the memory
            // image): the next call in the slot takes no page faults, and
            // freeing takes no `madvise`. Rust guests use one small table
            // (a page or two), so tables are always reset in place.
            .linear_memory_keep_resident(config.keep_resident_bytes)
            .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
            // Where the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and
            // later), reset only the pages the call actually dirtied instead
            // of the whole first `keep_resident_bytes` of memory: the reset
            // costs what the call touched (a few pages for a typical
            // transform), whatever the guest's memory layout. Elsewhere this
            // falls back to resetting the first `keep_resident_bytes`.
            .pagemap_scan(Enabled::Auto);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    cfg
}

/// Starts the thread that advances the engine's epoch every `tick`. It ends
/// by itself once the engine is dropped.
fn spawn_epoch_clock(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let tick = tick.max(Duration::from_millis(1));
    let spawned = std::thread::Builder::new().name("sluice-epoch".into()).spawn(move || {
        loop {
            std::thread::sleep(tick);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        }
    });
    if let Err(error) = spawned {
        // Without the clock, deadlines still hold through the async timeout
        // around each call; only guest code that never yields could overrun.
        tracing::error!(%error, "cannot start the epoch clock thread");
    }
}
