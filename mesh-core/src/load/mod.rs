//! Loading resource files: directories read recursively, multi-document files, Kubernetes
//! `List`s; every problem of every file reported, none aborting the others.

mod convert;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::diag::{Diagnostic, Severity, Sources};
use crate::path::FieldPath;
use crate::resource::{self, Kind, ObjectMeta, Origin, Resource, Spec};
use crate::validate::{self, Issue, Report};
use crate::yaml::{self, Node, Pos, Value};

pub use self::convert::convert;

/// Files larger than this are rejected before parsing.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// How strictly to load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Unknown fields become warnings instead of errors.
    pub lenient: bool,
}

/// What loading produced: the resources that passed the schema, and every diagnostic.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Schema-valid resources, in load order (a resource with validation errors is still here;
    /// check [`Loaded::has_errors`] before trusting the set).
    pub resources: Vec<Resource>,
    /// All findings, in file and line order.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file read.
    pub sources: Sources,
    /// How many files were read.
    pub files: usize,
}

// === impl Loaded ===

impl Loaded {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        crate::diag::has_errors(&self.diagnostics)
    }

    /// Loads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`; entries starting
    /// with `.` are skipped, which also skips the `..data` links of a ConfigMap mount).
    pub fn from_paths<P: AsRef<Path>>(paths: &[P], opts: LoadOptions) -> Loaded {
        let mut loaded = Loaded::default();
        for p in paths {
            let p = p.as_ref();
            let mut files = Vec::new();
            if let Err(e) = collect_files(p, &mut files) {
                loaded.file_error(&p.display().to_string(), format!("cannot read: {e}"));
                continue;
            }
            if p.is_dir() && files.is_empty() {
                loaded.warn_file(&p.display().to_string(), "no *.yaml, *.yml or *.json files");
            }
            for f in files {
                loaded.load_file(&f, opts);
            }
        }
        loaded.diagnostics.sort();
        loaded
    }

    /// Loads one YAML text under the name `file`.
    pub fn from_str(file: &str, text: &str, opts: LoadOptions) -> Loaded {
        let mut loaded = Loaded::default();
        loaded.add_text(file, text, opts);
        loaded.diagnostics.sort();
        loaded
    }

    /// Adds one YAML text to what is loaded.
    pub fn add_text(&mut self, file: &str, text: &str, opts: LoadOptions) {
        self.files += 1;
        self.sources.insert(file, text);
        let docs = match yaml::parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                self.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    file: file.to_owned(),
                    line: e.pos.line,
                    column: e.pos.column,
                    resource: None,
                    path: String::new(),
                    message: format!("invalid YAML: {}", e.message),
                });
                return;
            }
        };
        if docs.is_empty() {
            self.warn_file(file, "the file holds no resources");
        }
        let file: Arc<str> = Arc::from(file);
        for (i, doc) in docs.into_iter().enumerate() {
            self.add_document(&file, i, Arc::new(doc), opts);
        }
    }

    fn load_file(&mut self, path: &Path, opts: LoadOptions) {
        let name = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                return self.file_error(
                    &name,
                    format!(
                        "file is {} bytes; the limit is {MAX_FILE_BYTES} (16 MiB)",
                        m.len()
                    ),
                );
            }
            Err(e) => return self.file_error(&name, format!("cannot read: {e}")),
            Ok(_) => {}
        }
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.add_text(&name, &text, opts),
                Err(e) => self.file_error(
                    &name,
                    format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                ),
            },
            Err(e) => self.file_error(&name, format!("cannot read: {e}")),
        }
    }

    fn file_error(&mut self, file: &str, message: String) {
        self.files += 1;
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: 0,
            column: 0,
            resource: None,
            path: String::new(),
            message,
        });
    }

    fn warn_file(&mut self, file: &str, message: &str) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            file: file.to_owned(),
            line: 0,
            column: 0,
            resource: None,
            path: String::new(),
            message: message.to_owned(),
        });
    }

    fn add_document(&mut self, file: &Arc<str>, index: usize, node: Arc<Node>, opts: LoadOptions) {
        let origin = Origin {
            file: file.clone(),
            document: index,
            node: node.clone(),
        };
        let mut issues = Vec::new();
        let resource = parse_resource(&origin, self.resources.len(), opts, &mut issues);
        // A Kubernetes List: each item is a document of its own (positions stay absolute).
        if let Some(items) = list_items(&node) {
            for item in items {
                self.add_document(file, index, Arc::new(item.clone()), opts);
            }
            return;
        }
        let name = resource
            .as_ref()
            .map(Resource::display_name)
            .or_else(|| describe(&node));
        if let Some(res) = &resource {
            let mut report = Report::new();
            validate::validate(res, &mut report);
            issues.extend(report.into_issues());
        }
        for issue in issues {
            self.diagnostics
                .push(to_diagnostic(&origin, name.clone(), issue));
        }
        if let Some(res) = resource {
            self.resources.push(res);
        }
    }
}

/// Turns an issue about a document into a diagnostic positioned on its field.
pub fn to_diagnostic(origin: &Origin, resource: Option<String>, issue: Issue) -> Diagnostic {
    let pos = if issue.at_key {
        origin.node.locate(&issue.path)
    } else {
        diagnostic_pos(&origin.node, &issue.path)
    };
    Diagnostic {
        severity: issue.severity,
        file: origin.file.to_string(),
        line: pos.line,
        column: pos.column,
        resource,
        path: if issue.path.is_root() {
            String::new()
        } else {
            issue.path.to_string()
        },
        message: issue.message,
    }
}

/// A scalar's diagnostic points at the value (`weight: -5` points at `-5`); anything else at
/// its key, or at the nearest ancestor present.
fn diagnostic_pos(node: &Node, path: &FieldPath) -> Pos {
    match node.value_pos(path) {
        Some(p) if is_scalar_at(node, path) => p,
        _ => node.locate(path),
    }
}

fn is_scalar_at(node: &Node, path: &FieldPath) -> bool {
    let mut n = node;
    for seg in path.segments() {
        n = match (seg, &n.value) {
            (crate::path::Segment::Key(k), Value::Map(e)) => {
                match e.iter().find(|(x, _)| &x.name == k) {
                    Some((_, v)) => v,
                    None => return false,
                }
            }
            (crate::path::Segment::Index(i), Value::Seq(s)) => match s.get(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    !matches!(n.value, Value::Map(_) | Value::Seq(_))
}

fn describe(node: &Node) -> Option<String> {
    let kind = node.get_str("kind")?;
    let meta = node.get("metadata");
    let name = meta.and_then(|m| m.get_str("name")).unwrap_or("<unnamed>");
    let ns = meta
        .and_then(|m| m.get_str("namespace"))
        .unwrap_or("default");
    Some(format!("{kind} {ns}/{name}"))
}

fn list_items(node: &Node) -> Option<&[Node]> {
    if node.get_str("kind")? != "List" {
        return None;
    }
    match &node.get("items")?.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }
}

/// The API groups mesh owns: an unknown kind there is a typo, and a skipped policy could be a
/// bypass, so it is an error; unknown kinds of other groups are skipped with a warning.
const OWNED_GROUPS: [&str; 4] = [
    "networking.istio.io",
    "security.istio.io",
    "linkerd.io",
    "split.smi-spec.io",
];

/// Kinds of our groups that mesh does not enforce yet; rejected rather than ignored, so that
/// nobody believes they take effect.
const UNSUPPORTED: [&str; 6] = [
    "Sidecar",
    "EnvoyFilter",
    "WorkloadGroup",
    "ProxyConfig",
    "RequestAuthentication",
    "Telemetry",
];

fn parse_resource(
    origin: &Origin,
    seq: usize,
    opts: LoadOptions,
    issues: &mut Vec<Issue>,
) -> Option<Resource> {
    let node = &origin.node;
    let root = FieldPath::root();
    let mut err = |path: FieldPath, message: String| {
        issues.push(Issue {
            severity: Severity::Error,
            path,
            message,
            at_key: false,
        });
    };
    if !matches!(node.value, Value::Map(_)) {
        err(
            root,
            "a resource must be a YAML mapping with apiVersion, kind, metadata and spec".into(),
        );
        return None;
    }
    let Some(kind_name) = node.get_str("kind") else {
        err(root.key("kind"), "kind is required".into());
        return None;
    };
    let Some(api_version) = node.get_str("apiVersion") else {
        err(root.key("apiVersion"), "apiVersion is required".into());
        return None;
    };
    if kind_name == "List" {
        return None;
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let Some(kind) = Kind::from_name(kind_name) else {
        if OWNED_GROUPS.contains(&group) {
            let hint = if UNSUPPORTED.contains(&kind_name) {
                " is not supported by mesh yet".to_owned()
            } else {
                match suggest(kind_name) {
                    Some(k) => format!(" is not a known kind; did you mean {k}?"),
                    None => " is not a known kind".to_owned(),
                }
            };
            err(root.key("kind"), format!("{kind_name}{hint}"));
        } else {
            issues.push(Issue {
                severity: Severity::Warning,
                path: root.key("kind"),
                message: format!("{api_version} {kind_name} is not a kind mesh uses; skipped"),
                at_key: false,
            });
        }
        return None;
    };
    if group != kind.group() || !kind.versions().contains(&version) {
        let accepted: Vec<String> = kind
            .versions()
            .iter()
            .map(|v| {
                if kind.group().is_empty() {
                    (*v).to_owned()
                } else {
                    format!("{}/{v}", kind.group())
                }
            })
            .collect();
        err(
            root.key("apiVersion"),
            format!(
                "{kind} is not served by apiVersion {api_version:?}; use {}",
                accepted.join(", ")
            ),
        );
        return None;
    }
    // A security policy mesh cannot read in full could allow what it means to deny (a dropped
    // `notPaths` widens a DENY's match group into a bypass), so --lenient never applies to it.
    let security = matches!(kind, Kind::AuthorizationPolicy | Kind::PeerAuthentication);
    let opts = LoadOptions {
        lenient: opts.lenient && !security,
    };
    let (spec, meta, more) = match kind {
        Kind::VirtualService => typed(node, opts, Spec::VirtualService),
        Kind::DestinationRule => typed(node, opts, Spec::DestinationRule),
        Kind::Gateway => typed(node, opts, Spec::Gateway),
        Kind::ServiceEntry => typed(node, opts, Spec::ServiceEntry),
        Kind::WorkloadEntry => typed(node, opts, Spec::WorkloadEntry),
        Kind::PeerAuthentication => typed(node, opts, Spec::PeerAuthentication),
        Kind::AuthorizationPolicy => typed(node, opts, Spec::AuthorizationPolicy),
        Kind::ServiceProfile => typed(node, opts, Spec::ServiceProfile),
        Kind::TrafficSplit => typed(node, opts, Spec::TrafficSplit),
        Kind::Secret => {
            let (doc, more) = convert::<SecretDocument>(node, opts.lenient);
            match doc {
                Some(d) => (Some(Spec::Secret(d.body)), Some(d.metadata), more),
                None => (None, None, more),
            }
        }
    };
    issues.extend(more);
    Some(Resource {
        api_version: api_version.to_owned(),
        meta: meta?,
        spec: spec?,
        origin: origin.clone(),
        seq,
    })
}

type Typed = (Option<Spec>, Option<ObjectMeta>, Vec<Issue>);

fn typed<S: DeserializeOwned + Default>(
    node: &Node,
    opts: LoadOptions,
    wrap: fn(S) -> Spec,
) -> Typed {
    let (doc, issues) = convert::<Document<S>>(node, opts.lenient);
    match doc {
        Some(d) => (Some(wrap(d.spec)), Some(d.metadata), issues),
        None => (None, None, issues),
    }
}

/// The envelope of a Kubernetes resource.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document<S> {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
    #[serde(default, rename = "status")]
    _status: Option<serde_json::Value>,
}

/// A Secret has its body at the top level.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretDocument {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(flatten)]
    body: resource::SecretData,
}

/// The known kind closest to a misspelling (edit distance <= 3).
fn suggest(name: &str) -> Option<&'static str> {
    resource::ALL_KINDS
        .iter()
        .map(|k| {
            (
                edit_distance(&name.to_lowercase(), &k.name().to_lowercase()),
                k.name(),
            )
        })
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !p.is_dir() {
        std::fs::metadata(p)?;
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|e| {
            !e.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_files(&e, out)?;
        } else if matches!(
            e.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
