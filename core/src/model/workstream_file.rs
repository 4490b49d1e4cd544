//! Reading one workstream file into raw workstreams: UTF-8, JSON or YAML syntax (with line
//! and column), the JSON Schema, then the raw structs.
//!
//! A `.yaml` / `.yml` file is read like a JSON one: the same visitors build the same
//! `serde_json::Value`s (refusing duplicate keys), checked against the same schema, so
//! every rule, limit and message is the same; only syntax errors differ in wording.
//!
//! Memory: the JSON Schema check needs a `serde_json::Value`, but never of the whole file
//! at once. A file holding an array is read element by element: each workstream object is
//! parsed into a `Value`, checked against the schema, moved into its
//! [`RawWorkstream`] (strings are moved, not copied) and handed to the caller, which
//! builds its steps before the next one is parsed. Only a file holding a single object is
//! one `Value` for a moment.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::ValidationDiagnostic;
use super::other_fields::ObjectKind;
use super::raw_workstream::RawWorkstream;
use super::schema::validate_workstream;

/// One schema-valid workstream object and where it comes from.
#[derive(Debug)]
pub(crate) struct SourcedWorkstream {
    /// Boxed so that a list of them stays small and each is freed as it is built.
    pub raw: Box<RawWorkstream>,
    /// The file that holds it (shared by every workstream of the file).
    pub file: Arc<Path>,
    /// JSON pointer of the object in its file: `""` for a single object, `/N` in an array.
    pub pointer: String,
}

/// Reads `file`, handing each schema-valid workstream object to `accept` as soon as it is
/// parsed (so that later checks still run on the valid ones; each invalid one is an error
/// in `diags`). Returns `false` when the file cannot be read or parsed at all: it is then
/// one error, and whatever `accept` received from it must be discarded.
pub(crate) fn read_workstream_file(
    file: &Path,
    diags: &mut Vec<ValidationDiagnostic>,
    accept: &mut dyn FnMut(SourcedWorkstream),
) -> bool {
    let bytes = match read_bounded(file, max_workstream_bytes()) {
        Ok(b) => b,
        Err(d) => {
            diags.push(*d);
            return false;
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    format!("byte {}", e.valid_up_to()),
                    "file is not valid UTF-8",
                )
                .with_hint("save the file as UTF-8"),
            );
            return false;
        }
    };
    let shared: Arc<Path> = Arc::from(file);
    // Findings about items are kept apart until the whole file parsed: a syntax error
    // anywhere makes the file one error, as if nothing had been read.
    let mut item_diags = Vec::new();
    let mut accept = |pointer: String, value: Value| {
        if let Some(w) = schema_checked(&shared, pointer, value, &mut item_diags) {
            accept(w);
        }
    };
    let top = match parse_top_level(file, text, &mut accept) {
        Ok(top) => top,
        Err(d) => {
            diags.push(*d);
            return false;
        }
    };
    match top {
        TopLevel::Array { len: 0 } => diags.push(
            ValidationDiagnostic::error(file, "", "empty array: the file holds no workstream")
                .with_hint("add at least one workstream object"),
        ),
        TopLevel::Array { .. } => {}
        TopLevel::Object(value) => {
            if is_json_schema(&value) {
                diags.push(ValidationDiagnostic::note(
                    file,
                    "",
                    "skipped: a JSON Schema document, not a workstream",
                ));
                return true;
            }
            if FileSyntax::of(file) == FileSyntax::Yaml && is_ci_workflow(&value) {
                diags.push(ValidationDiagnostic::note(
                    file,
                    "",
                    "skipped: a CI workflow (top-level `jobs`, no `id`), not a workstream",
                ));
                return true;
            }
            if FileSyntax::of(file) == FileSyntax::Yaml && !looks_like_workstream(&value) {
                diags.push(ValidationDiagnostic::note(
                    file,
                    "",
                    "skipped: a YAML document with no workstream field (no `id`), not a workstream",
                ));
                return true;
            }
            accept(String::new(), value);
        }
        TopLevel::Other(kind) => {
            diags.push(ValidationDiagnostic::error(
                file,
                "",
                format!("expected a workstream object or an array of them, found {kind}"),
            ));
            return false;
        }
    }
    diags.extend(item_diags);
    true
}

/// The syntax of a workstream file, from its extension: `.yaml` and `.yml` are YAML,
/// anything else JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileSyntax {
    Json,
    Yaml,
}

impl FileSyntax {
    /// The syntax of `file`, from its extension (case ignored).
    pub(crate) fn of(file: &Path) -> FileSyntax {
        match file.extension().and_then(|x| x.to_str()) {
            Some(x) if x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml") => {
                FileSyntax::Yaml
            }
            _ => FileSyntax::Json,
        }
    }
}

/// Parses `text` (JSON or YAML, from `file`'s extension), handing each array element to
/// `on_item` as it is parsed. Both syntaxes go through the same visitors, so duplicate
/// keys are refused and comment keys skipped alike. Errors: one diagnostic at
/// `line L, column C` (both 1-based) naming the syntax error.
fn parse_top_level(
    file: &Path,
    text: &str,
    on_item: &mut dyn FnMut(String, Value),
) -> Result<TopLevel, Box<ValidationDiagnostic>> {
    let visitor = TopLevelVisitor { on_item };
    match FileSyntax::of(file) {
        FileSyntax::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            de::Deserializer::deserialize_any(&mut de, visitor)
                .and_then(|top| de.end().map(|()| top))
                .map_err(|e| {
                    let mut d = ValidationDiagnostic::error(
                        file,
                        format!("line {}, column {}", e.line(), e.column()),
                        format!("invalid JSON: {e}"),
                    );
                    if e.is_eof() {
                        d = d.with_hint("the file ends early: is it truncated?");
                    }
                    Box::new(d)
                })
        }
        FileSyntax::Yaml => {
            let de = serde_norway::Deserializer::from_str(text);
            de::Deserializer::deserialize_any(de, visitor).map_err(|e| {
                let location = e.location().map_or_else(String::new, |l| {
                    format!("line {}, column {}", l.line(), l.column())
                });
                Box::new(ValidationDiagnostic::error(
                    file,
                    location,
                    format!("invalid YAML: {e}"),
                ))
            })
        }
    }
}

/// Environment variable that sets the largest workstream file read, in bytes
/// ([`DEFAULT_MAX_WORKSTREAM_BYTES`] when unset).
pub const MAX_WORKSTREAM_BYTES_ENV: &str = "PIPELINE_MAX_WORKSTREAM_BYTES";

/// The largest workstream file read unless [`MAX_WORKSTREAM_BYTES_ENV`] says otherwise:
/// 64 MiB, about 700,000 steps in the benchmark's format.
pub const DEFAULT_MAX_WORKSTREAM_BYTES: u64 = 64 * 1024 * 1024;

/// The size limit in bytes: [`MAX_WORKSTREAM_BYTES_ENV`] when it holds a whole number,
/// else [`DEFAULT_MAX_WORKSTREAM_BYTES`] (an unusable value is logged, not fatal: the
/// default is the safe choice).
fn max_workstream_bytes() -> u64 {
    match std::env::var(MAX_WORKSTREAM_BYTES_ENV) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(
                value = v,
                "{MAX_WORKSTREAM_BYTES_ENV} is not a number of bytes; using the default"
            );
            DEFAULT_MAX_WORKSTREAM_BYTES
        }),
        Err(_) => DEFAULT_MAX_WORKSTREAM_BYTES,
    }
}

/// Reads `file` whole if it is a regular file of at most `limit` bytes.
///
/// A FIFO, a device or a socket is refused from its metadata before it is opened, so
/// `/dev/zero` is never read and a FIFO never blocks; the file is opened with
/// `O_NONBLOCK` and checked again through the open handle (it may have been replaced
/// meanwhile), and read through `take(limit + 1)`, so a file that grows while it is read
/// is bounded too.
///
/// Errors: one diagnostic naming the file: cannot be read, not a regular file (saying what
/// it is), or larger than `limit` (with the environment variable that raises it).
pub(crate) fn read_bounded(file: &Path, limit: u64) -> Result<Vec<u8>, Box<ValidationDiagnostic>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let cannot_read = |e: std::io::Error| {
        Box::new(ValidationDiagnostic::error(
            file,
            "",
            format!("cannot read: {e}"),
        ))
    };
    let check = |meta: &std::fs::Metadata| -> Result<(), Box<ValidationDiagnostic>> {
        if !meta.is_file() {
            return Err(Box::new(
                ValidationDiagnostic::error(
                    file,
                    "",
                    format!(
                        "not a regular file ({}): refused without reading it",
                        file_kind(meta)
                    ),
                )
                .with_hint("give a workstream file (.json, .yaml, .yml) or a directory of them"),
            ));
        }
        if meta.len() > limit {
            return Err(too_large(file, format!("{} bytes", meta.len()), limit));
        }
        Ok(())
    };
    check(&std::fs::metadata(file).map_err(cannot_read)?)?;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(file)
        .map_err(cannot_read)?;
    let meta = handle.metadata().map_err(cannot_read)?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    handle
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(
            file,
            "more bytes (it grew while read)".into(),
            limit,
        ));
    }
    Ok(bytes)
}

fn too_large(file: &Path, size: String, limit: u64) -> Box<ValidationDiagnostic> {
    Box::new(
        ValidationDiagnostic::error(
            file,
            "",
            format!("file holds {size}, more than the limit of {limit} bytes"),
        )
        .with_hint(format!(
            "split the workstreams into several files, or raise the limit with \
             {MAX_WORKSTREAM_BYTES_ENV}=<bytes>"
        )),
    )
}

/// What a file that is not a regular file is, in words.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// What the top level of a file is. Array elements are handed to the visitor's callback
/// as they are parsed, so only their count remains.
enum TopLevel {
    Array {
        len: usize,
    },
    Object(Value),
    /// `a string`, `a number`, ...
    Other(&'static str),
}

struct TopLevelVisitor<'a> {
    on_item: &'a mut dyn FnMut(String, Value),
}

impl<'de> Visitor<'de> for TopLevelVisitor<'_> {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a workstream object or an array of them")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        let mut len = 0;
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            (self.on_item)(format!("/{len}"), item);
            len += 1;
        }
        Ok(TopLevel::Array { len })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TopLevel, A::Error> {
        UniqueKeys.visit_map(map).map(TopLevel::Object)
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("null"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a string"))
    }
}

/// Builds a [`Value`] like `Value::deserialize`, but refuses an object that names a key
/// twice: serde_json would keep the last value silently, and a step whose `command` or
/// `depends_on` is written twice is a mistake to report, not to guess at.
///
/// The error is raised right after the repeated key is read, so serde_json gives it the
/// line and column of that key (the file is then one "invalid JSON" error). This costs
/// one map lookup per key on top of building the value, which is what serde_json does
/// anyway.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> de::DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            out.push(item);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match out.entry(key) {
                serde_json::map::Entry::Occupied(e) => {
                    return Err(de::Error::custom(format!(
                        "duplicate key `{}` in one object (the earlier value would be ignored)",
                        e.key()
                    )));
                }
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(map.next_value_seed(UniqueKeys)?);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Checks one workstream object against the schema and moves it into its raw struct.
/// Violations are errors at `pointer` + their own pointer, naming the step they are in.
fn schema_checked(
    file: &Arc<Path>,
    pointer: String,
    value: Value,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Option<SourcedWorkstream> {
    let violations = validate_workstream(&value);
    if !violations.is_empty() {
        let id = value.get("id").and_then(Value::as_str);
        for viol in violations {
            let location = format!("{pointer}{}", viol.pointer);
            let mut d = ValidationDiagnostic::error(
                &**file,
                pointer_or_root(&location).to_string(),
                viol.message,
            );
            if let Some(step) = step_id_at(&value, &viol.pointer, id) {
                d = d.with_step(step);
            }
            diags.push(d);
        }
        return None;
    }
    match RawWorkstream::from_value(value) {
        Ok(raw) => Some(SourcedWorkstream {
            raw: Box::new(raw),
            file: Arc::clone(file),
            pointer,
        }),
        // The schema admits only what the raw structs read; this is a defect of the two
        // disagreeing, reported rather than hidden.
        Err(e) => {
            diags.push(ValidationDiagnostic::error(
                &**file,
                pointer_or_root(&pointer).to_string(),
                format!("workstream does not fit the workstream format: {e}"),
            ));
            None
        }
    }
}

/// `pointer`, or `the top level` for the empty pointer.
pub(crate) fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() { "the top level" } else { p }
}

/// Whether an object names any workstream field. YAML directories often hold other
/// YAML (configuration, the original tool's OpenSpec bundles): an object with none of the
/// fields is such a file, not a workstream with a typo.
fn looks_like_workstream(v: &Value) -> bool {
    let fields = ObjectKind::Workstream.all();
    v.as_object()
        .is_some_and(|o| o.keys().any(|k| fields.contains(&k.as_str())))
}

/// A GitHub Actions workflow (such as those in `workstreams/examples/ci/`): its `name` and
/// `env` are workstream fields too, but a workstream has no `jobs`.
fn is_ci_workflow(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("jobs") && !o.contains_key("id"))
}

fn is_json_schema(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("$schema") && !o.contains_key("id"))
}

/// For a violation inside `/steps/N/...` or `/phases/N/steps/M/...`, the step's id.
fn step_id_at(ws: &Value, pointer: &str, ws_id: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let step = match parts.as_slice() {
        ["steps", n, ..] => ws.get("steps")?.get(n.parse::<usize>().ok()?)?,
        ["phases", p, "steps", n, ..] => ws
            .get("phases")?
            .get(p.parse::<usize>().ok()?)?
            .get("steps")?
            .get(n.parse::<usize>().ok()?)?,
        _ => return ws_id.map(str::to_string),
    };
    let sid = step.get("id").and_then(Value::as_str)?;
    Some(match ws_id {
        Some(w) => format!("{w}/{sid}"),
        None => sid.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Option<Vec<SourcedWorkstream>>, Vec<ValidationDiagnostic>) {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("w.json");
        std::fs::write(&f, text).unwrap();
        let mut diags = Vec::new();
        let mut items = Vec::new();
        let ok = read_workstream_file(&f, &mut diags, &mut |w| items.push(w));
        (ok.then_some(items), diags)
    }

    #[test]
    fn arrays_are_read_item_by_item_with_pointers() {
        let (items, diags) =
            read(r#"[{"id": "a", "command": "true"}, {"id": "b/x"}, {"id": "c", "tasks": "t"}]"#);
        let items = items.unwrap();
        let ids: Vec<(&str, &str)> = items
            .iter()
            .map(|w| (w.raw.fields.id.as_str(), w.pointer.as_str()))
            .collect();
        assert_eq!(ids, vec![("a", "/0"), ("c", "/2")]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].location, "/1/id");
    }

    #[test]
    fn a_syntax_error_after_valid_items_is_the_only_finding() {
        let (items, diags) = read("[{\"id\": \"a\"}, {\"id\": \"b/x\"},\n {\"id\": ");
        assert!(items.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].location, "line 2, column 8");
        assert!(
            diags[0].message.starts_with("invalid JSON: EOF"),
            "{}",
            diags[0]
        );
    }

    #[test]
    fn other_top_levels_are_named() {
        for (text, kind) in [
            ("3", "a number"),
            ("\"x\"", "a string"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let (items, diags) = read(text);
            assert!(items.is_none());
            assert!(diags[0].message.ends_with(kind), "{}", diags[0]);
        }
        let (_, diags) = read("{\"id\": \"a\", \"command\": \"true\"} x");
        assert!(
            diags[0].message.contains("trailing characters"),
            "{}",
            diags[0]
        );
        let (items, diags) = read(r#"{"$schema": "https://json-schema.org/draft/2020-12/schema"}"#);
        assert!(items.unwrap().is_empty());
        assert!(diags[0].message.contains("JSON Schema"));
    }
}
