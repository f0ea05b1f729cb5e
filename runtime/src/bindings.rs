//! Host bindings generated from `wit/connector.wit`.
//!
//! `send` is async (it waits for the network) and every import may trap, so
//! that a host function can end the call when a limit is crossed.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    imports: {
        "sluice:connector/backend": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});
