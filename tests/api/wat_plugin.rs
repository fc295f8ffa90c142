//! Parser plugins written in the WebAssembly text format, for shapes the
//! Rust toolchain does not make (many memories, modules, globals). The
//! plugin implements the contract by hand: it describes itself as `wat`
//! 1.0, accepts any settings, detects nothing, and calls every line
//! invalid ("not parsed").

/// The component, with `module_fields` added to its core module,
/// `parse_first` run first by each `parse-batch`, and `component_items`
/// (more modules and instances) added to the component.
pub fn wat_plugin(module_fields: &str, parse_first: &str, component_items: &str) -> Vec<u8> {
    let text = TEMPLATE
        .replace("{module_fields}", module_fields)
        .replace("{parse_first}", parse_first)
        .replace("{component_items}", component_items);
    wat::parse_str(text).expect("the text plugin is valid")
}

/// The contract's types (as wit-component lays them out), a core module
/// with a bump allocator reset after every call, and the four functions
/// lifted from it. An outcome is 48 bytes: its case at 0 (2: invalid),
/// the reason's pointer and length at 8 and 12.
const TEMPLATE: &str = r#"
(component
  (type $types (instance
    (type (option string))
    (type (option s64))
    (type (record (field "format" 0) (field "reference-ms" 1)))
    (export "batch-context" (type (eq 2)))
    (type (enum "trace" "debug" "info" "warn" "error" "fatal" "unknown"))
    (export "level" (type (eq 4)))
    (type (option u32))
    (type (record (field "timestamp-ms" 1) (field "level" 5) (field "service" 6) (field "component" 6)))
    (export "entry" (type (eq 7)))
    (type (variant (case "parsed" 8) (case "skipped") (case "invalid" string)))
    (export "outcome" (type (eq 9)))
    (type (list string))
    (type (list 10))
    (type (record (field "names" 11) (field "outcomes" 12)))
    (export "parsed-batch" (type (eq 13)))
    (type (record (field "name" string) (field "version" string)))
    (export "plugin-info" (type (eq 15)))))
  (import "logproc:plugin/types@0.3.0" (instance $types (type $types)))
  (alias export $types "batch-context" (type $batch-context))
  (alias export $types "parsed-batch" (type $parsed-batch))
  (alias export $types "plugin-info" (type $plugin-info))

  (core module $parser
    (memory (export "memory") 1)
    (global $free (mut i32) (i32.const 1024))
    (data (i32.const 16) "wat")
    (data (i32.const 24) "1.0")
    (data (i32.const 32) "not parsed")
    (data (i32.const 64) "\10\00\00\00\03\00\00\00\18\00\00\00\03\00\00\00")
    (func $realloc (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $free) (i32.const 7)) (i32.const -8)))
      (global.set $free (i32.add (local.get $at) (local.get 3)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $free) (i32.shl (memory.size) (i32.const 16))))
        (br_if $fits (i32.ne (i32.const -1)
          (memory.grow (i32.add (i32.const 1)
            (i32.shr_u (i32.sub (global.get $free) (i32.shl (memory.size) (i32.const 16))) (i32.const 16))))))
        unreachable)
      (local.get $at))
    (func (export "reset") (param i32) (global.set $free (i32.const 1024)))
    (func (export "describe") (result i32) (i32.const 64))
    (func (export "configure") (param i32 i32) (result i32) (i32.const 96))
    (func (export "detect") (param i32 i32) (result i32) (i32.const 96))
    (func (export "parse-batch") (param $text i32) (param $length i32) (param i32 i32 i32 i32 i64) (result i32)
      (local $lines i32) (local $at i32) (local $outcomes i32) (local $batch i32)
      {parse_first}
      (local.set $lines (i32.const 1))
      (block $counted (loop $count
        (br_if $counted (i32.ge_u (local.get $at) (local.get $length)))
        (if (i32.eq (i32.load8_u (i32.add (local.get $text) (local.get $at))) (i32.const 10))
          (then (local.set $lines (i32.add (local.get $lines) (i32.const 1)))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $count)))
      (local.set $outcomes (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.mul (local.get $lines) (i32.const 48))))
      (local.set $at (local.get $outcomes))
      (block $filled (loop $fill
        (br_if $filled (i32.ge_u (local.get $at) (i32.add (local.get $outcomes) (i32.mul (local.get $lines) (i32.const 48)))))
        (i32.store8 (local.get $at) (i32.const 2))
        (i32.store offset=8 (local.get $at) (i32.const 32))
        (i32.store offset=12 (local.get $at) (i32.const 10))
        (local.set $at (i32.add (local.get $at) (i32.const 48)))
        (br $fill)))
      (local.set $batch (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 16)))
      (i32.store offset=8 (local.get $batch) (local.get $outcomes))
      (i32.store offset=12 (local.get $batch) (local.get $lines))
      (local.get $batch))
    {module_fields})
  (core instance $parser (instantiate $parser))
  {component_items}

  (alias core export $parser "memory" (core memory $memory))
  (alias core export $parser "realloc" (core func $realloc))
  (alias core export $parser "reset" (core func $reset))
  (alias core export $parser "describe" (core func $describe))
  (alias core export $parser "configure" (core func $configure))
  (alias core export $parser "detect" (core func $detect))
  (alias core export $parser "parse-batch" (core func $parse-batch))
  (type $describe (func (result $plugin-info)))
  (type $settings (list (tuple string string)))
  (type $configure (func (param "settings" $settings) (result (result (error string)))))
  (type $detect (func (param "lines" string) (result (option string))))
  (type $parse-batch (func (param "lines" string) (param "context" $batch-context) (result $parsed-batch)))
  (func $describe (type $describe) (canon lift (core func $describe) (memory $memory)))
  (func $configure (type $configure) (canon lift (core func $configure) (memory $memory) (realloc $realloc) (post-return $reset)))
  (func $detect (type $detect) (canon lift (core func $detect) (memory $memory) (realloc $realloc) (post-return $reset)))
  (func $parse-batch (type $parse-batch)
    (canon lift (core func $parse-batch) (memory $memory) (realloc $realloc) (post-return $reset)))
  (instance $parser-export
    (export "describe" (func $describe))
    (export "configure" (func $configure))
    (export "detect" (func $detect))
    (export "parse-batch" (func $parse-batch)))
  (export "logproc:plugin/parser@0.3.0" (instance $parser-export)))
"#;
