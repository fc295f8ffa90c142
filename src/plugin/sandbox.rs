//! The store state of a plugin instance: WASI with no capabilities and no
//! way to wait, and limits on the whole instance.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: InstanceLimits,
}

impl HostState {
    pub fn new(memory_bytes: usize) -> HostState {
        // No preopened directories, no environment, no arguments, no stdio,
        // no network, and clocks frozen at the epoch: a parser must be a pure
        // function of its input.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            // Random bytes are made in host memory, outside the cap.
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits: InstanceLimits::new(memory_bytes),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Most random bytes one WASI call may ask for (Rust's std asks for 16).
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// The version of the WASI interfaces wasmtime-wasi links; a component
/// importing any 0.2.x version is linked to these.
const WASI_VERSION: &str = "0.2.12";

/// Replaces the WASI functions that make a pollable out of time with ones
/// that trap. Blocking on such a pollable sleeps in host code, where the
/// epoch deadline cannot stop it; with these gone, no pollable a plugin can
/// make ever waits (its streams are closed or sinks, it has no sockets).
pub fn forbid_waiting(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    for name in ["subscribe-duration", "subscribe-instant"] {
        clock.func_wrap(name, |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            Err(wasmtime::Error::msg(
                "the plugin tried to wait (wasi:clocks/monotonic-clock subscribe): parsers may not sleep or wait",
            ))
        })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// Limits on one instance as a whole: the memory cap counts every linear
/// memory of the component together, and tables are bounded too (a
/// component can hold many memories and tables; a cap per memory would let
/// it multiply the cap).
#[derive(Debug)]
pub struct InstanceLimits {
    memory_cap: usize,
    memory_bytes: usize,
    table_elements: usize,
}

/// Table elements (function references: 8 to 16 bytes of host memory each)
/// all tables of one instance may hold. A Rust plugin's table holds a few
/// thousand.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Core instances, memories and tables one component may make. The
/// default plugins make 2 instances, 1 memory and 1 table.
const MAX_INSTANCES: usize = 16;
const MAX_MEMORIES: usize = 4;
const MAX_TABLES: usize = 16;

impl InstanceLimits {
    pub fn new(memory_cap: usize) -> InstanceLimits {
        InstanceLimits {
            memory_cap,
            memory_bytes: 0,
            table_elements: 0,
        }
    }
}

impl ResourceLimiter for InstanceLimits {
    // An error (rather than `false`) traps at once, with the reason.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_bytes - current.min(self.memory_bytes) + desired;
        if total > self.memory_cap {
            return Err(wasmtime::Error::msg(format!(
                "the plugin's memory would grow past its cap of {} MiB (plugins.memory_limit_mib)",
                self.memory_cap >> 20
            )));
        }
        self.memory_bytes = total;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.table_elements - current.min(self.table_elements) + desired;
        if total > MAX_TABLE_ELEMENTS {
            return Err(wasmtime::Error::msg(format!(
                "the plugin's tables would grow past {MAX_TABLE_ELEMENTS} elements"
            )));
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// A clock that always reads zero.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_memory_cap_counts_every_memory_together() {
        let mut limits = InstanceLimits::new(64 * MIB);
        // Two memories of 30 MiB fit; a third grown by 8 MiB does not.
        assert!(limits.memory_growing(0, 30 * MIB, None).unwrap());
        assert!(limits.memory_growing(0, 30 * MIB, None).unwrap());
        assert!(limits.memory_growing(0, 8 * MIB, None).is_err());
        // Growing one of them counts only the growth.
        assert!(limits.memory_growing(30 * MIB, 34 * MIB, None).unwrap());
        assert!(limits.memory_growing(34 * MIB, 35 * MIB, None).is_err());
    }

    #[test]
    fn tables_are_bounded_together() {
        let mut limits = InstanceLimits::new(64 * MIB);
        assert!(limits.table_growing(0, MAX_TABLE_ELEMENTS / 2, None).unwrap());
        assert!(limits.table_growing(0, MAX_TABLE_ELEMENTS / 2, None).unwrap());
        assert!(limits.table_growing(0, 1, None).is_err());
    }
}

/// Real components (written in the text format), instantiated in a real
/// store with these limits: what the Rust toolchain cannot build.
#[cfg(test)]
mod component_tests {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    use super::HostState;

    /// Instantiates a component of `copies` core instances of `module`,
    /// under a 64 MiB cap.
    fn instantiate(module: &str, copies: usize) -> wasmtime::Result<()> {
        let instances: String = (0..copies).map(|_| "(core instance (instantiate $m))\n").collect();
        let text = format!("(component (core module $m {module})\n{instances})");
        let engine = Engine::default();
        let component = Component::from_binary(&engine, &wat::parse_str(text)?)?;
        let mut store = Store::new(&engine, HostState::new(64 << 20));
        store.limiter(|state| &mut state.limits);
        Linker::new(&engine).instantiate(&mut store, &component).map(|_| ())
    }

    #[test]
    fn a_component_of_many_memories_gets_one_cap() {
        // 30 MiB each (480 pages of 64 KiB): two fit under 64 MiB, three do not.
        let memory = "(memory 480)";
        instantiate(memory, 2).unwrap();
        let error = instantiate(memory, 3).unwrap_err();
        assert!(format!("{error:#}").contains("past its cap of 64 MiB"), "{error:#}");
        // Several memories in one module count together too.
        instantiate("(memory 480) (memory 480)", 1).unwrap();
        let error = instantiate("(memory 480) (memory 480) (memory 480)", 1).unwrap_err();
        assert!(format!("{error:#}").contains("past its cap of 64 MiB"), "{error:#}");
    }

    #[test]
    fn a_component_of_big_tables_is_refused() {
        let table = "(table 600000 funcref)";
        instantiate(table, 1).unwrap();
        let error = instantiate(table, 2).unwrap_err();
        assert!(format!("{error:#}").contains("past 1048576 elements"), "{error:#}");
        // Growing one at run time counts as well.
        let grows =
            "(table 10 funcref) (func $grow (drop (table.grow 0 (ref.null func) (i32.const 2000000)))) (start $grow)";
        let error = instantiate(grows, 1).unwrap_err();
        assert!(format!("{error:#}").contains("past 1048576 elements"), "{error:#}");
    }
}
