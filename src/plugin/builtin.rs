//! The default plugins, built from `plugins/` by build.rs and embedded.

/// (name, component bytes) of every built-in plugin.
pub fn builtin_plugins() -> [(&'static str, &'static [u8]); 2] {
    [
        ("json", include_bytes!(concat!(env!("OUT_DIR"), "/json.wasm"))),
        ("regex", include_bytes!(concat!(env!("OUT_DIR"), "/regex.wasm"))),
    ]
}
