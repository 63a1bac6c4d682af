//! YAML text to positioned documents.

mod node;

pub use self::node::{Key, Node, Pos, Value};

/// A YAML syntax or budget error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it said.
    pub message: String,
}

/// Nesting deeper than this is rejected (Kubernetes resources nest about 12 levels).
pub const MAX_DEPTH: usize = 64;

/// More documents than this in one file are rejected.
pub const MAX_DOCUMENTS: usize = 16_384;

/// More YAML nodes (mappings, sequences, scalars) than this in one file are rejected.
pub const MAX_NODES: usize = 2_000_000;

/// Parses every document of a multi-document YAML text.
///
/// Budgets: at most 64 levels of nesting, bounded alias expansion and node counts (what
/// serde-saphyr enforces by default), so alias bombs and deep nesting fail instead of exhausting
/// memory or stack. YAML 1.1 booleans (`yes`, `on`, ...) read as booleans, as Kubernetes
/// reads them; quote them to get strings. Empty documents (a lone `---`, comments only) are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    // The parser recurses once per nesting level with large frames; run it on a thread whose
    // stack holds MAX_DEPTH levels whatever the caller's stack is (a test thread has 2 MiB).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("mesh-yaml".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || parse_on_this_thread(text))
            .map_err(|e| SyntaxError {
                pos: Pos::default(),
                message: format!("cannot start the YAML parser thread: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(SyntaxError {
                    pos: Pos::default(),
                    message: "the YAML parser failed unexpectedly".into(),
                })
            })
    })
}

const PARSER_STACK: usize = 64 << 20;

fn parse_on_this_thread(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    // Files are capped at 16 MiB before parsing; within that, allow what a large rendered
    // manifest holds (serde-saphyr's defaults stop at 1,024 documents and 250,000 nodes).
    budget.max_documents = MAX_DOCUMENTS;
    budget.max_nodes = MAX_NODES;
    budget.max_events = 4 * MAX_NODES;
    let options = serde_saphyr::options! { budget: Some(budget) };
    let docs: Vec<Option<Node>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: u32::try_from(l.line()).unwrap_or(u32::MAX),
                    column: u32::try_from(l.column()).unwrap_or(u32::MAX),
                })
                .unwrap_or_default();
            let message = first_line(&e.without_snippet().to_string());
            let message = match message.strip_prefix("budget breached: ") {
                Some(what) => format!(
                    "the file exceeds a parser safety limit ({what}; at most {MAX_DOCUMENTS} \
                     documents, {MAX_NODES} nodes and {MAX_DEPTH} levels of nesting per file): \
                     split it into smaller files"
                ),
                None => message,
            };
            SyntaxError { pos, message }
        })?;
    Ok(docs
        .into_iter()
        .flatten()
        .filter(|d| d.value != Value::Null)
        .collect())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}

#[cfg(test)]
mod tests;
