//! What an instance of a component holds in host memory outside its linear
//! memories and tables (which the store's limiter caps): each core
//! instance's state, one slot per global and per import, is allocated and
//! written when it is made. Measured: 16 instances of a module of 1M
//! globals (a 5 MB component) took 234 MB; of 100k imports, 94 MB. A cap
//! per core module, checked before anything is compiled, keeps one
//! instance's state under 16 × (10,000 × 16 B + 10,000 × 64 B) ≈ 13 MB.

use wasmparser::{Parser, Payload};

/// Most globals one core module may define or import.
pub const MAX_GLOBALS: u32 = 10_000;

/// Most imports (of any kind) one core module may have. A Rust plugin's
/// main module imports about 30 functions.
pub const MAX_IMPORTS: u32 = 10_000;

/// Checks every core module of the component `bytes`, nested ones too,
/// against [`MAX_GLOBALS`] and [`MAX_IMPORTS`]. Reads section headers
/// only; a malformed component is left for the compiler to describe.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    // (globals, imports) of the core module being read; modules nest in
    // components, never in modules, so the first end after a module's
    // start is its end.
    let mut module: Option<(u32, u32)> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return Ok(()) };
        match payload {
            Payload::Version { encoding, .. } => {
                module = (encoding == wasmparser::Encoding::Module).then_some((0, 0));
            }
            Payload::End(_) => module = None,
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let (Ok(import), Some((globals, imports))) = (import, module.as_mut()) else {
                        return Ok(());
                    };
                    *imports += 1;
                    *globals += u32::from(matches!(import.ty, wasmparser::TypeRef::Global(_)));
                }
            }
            Payload::GlobalSection(reader) => {
                if let Some((globals, _)) = module.as_mut() {
                    *globals = globals.saturating_add(reader.count());
                }
            }
            _ => {}
        }
        let Some((globals, imports)) = module else { continue };
        if globals > MAX_GLOBALS {
            return Err(format!(
                "a core module of it has more than {MAX_GLOBALS} globals ({globals}): each instance would hold them in host memory"
            ));
        }
        if imports > MAX_IMPORTS {
            return Err(format!(
                "a core module of it has more than {MAX_IMPORTS} imports ({imports}): each instance would hold them in host memory"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(modules: &[String]) -> Vec<u8> {
        let modules: String = modules.iter().map(|module| format!("(core module {module})")).collect();
        wat::parse_str(format!("(component {modules})")).unwrap()
    }

    fn globals(count: u32) -> String {
        (0..count).map(|_| "(global i32 (i32.const 0))").collect()
    }

    fn imports(count: u32) -> String {
        (0..count).map(|i| format!("(import \"m\" \"{i}\" (func))")).collect()
    }

    #[test]
    fn modules_within_the_caps_pass() {
        let bytes = component(&[globals(MAX_GLOBALS), imports(MAX_IMPORTS), globals(MAX_GLOBALS)]);
        assert_eq!(check(&bytes), Ok(()));
    }

    #[test]
    fn a_module_past_a_cap_is_refused() {
        let error = check(&component(&[globals(1), globals(MAX_GLOBALS + 1)])).unwrap_err();
        assert!(error.contains("more than 10000 globals (10001)"), "{error}");
        let error = check(&component(&[imports(MAX_IMPORTS + 1)])).unwrap_err();
        assert!(error.contains("more than 10000 imports (10001)"), "{error}");
        // Imported globals count as globals and as imports.
        let mixed = format!("(import \"m\" \"g\" (global i32)) {}", globals(MAX_GLOBALS));
        let error = check(&component(&[mixed])).unwrap_err();
        assert!(error.contains("globals (10001)"), "{error}");
    }

    #[test]
    fn modules_nested_in_components_are_checked() {
        let nested = format!("(component (component (core module {})))", globals(MAX_GLOBALS + 1));
        let error = check(&wat::parse_str(nested).unwrap()).unwrap_err();
        assert!(error.contains("globals (10001)"), "{error}");
    }

    #[test]
    fn the_built_in_plugins_pass() {
        for (name, bytes) in crate::plugin::builtin::builtin_plugins() {
            assert_eq!(check(bytes), Ok(()), "{name}");
        }
    }
}
