//! A YAML document as a tree of nodes that remember where they start, so
//! that any value can be located again by its path after the typed model has
//! been built from it.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::model::SourcePos;

/// Core-schema tag prefix that `!!str` and friends resolve to.
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// Maximum nodes one file may produce, counted over all its documents and
/// with every alias counted as a full copy of its anchored node. Desired-state
/// files have a few hundred nodes, so this stops alias bombs (`&a [*b, *b, ...]`
/// nested a few levels) long before they exhaust memory.
pub const MAX_NODES_PER_FILE: usize = 100_000;

/// Deepest nesting of collections in one document, alias copies included.
/// It keeps the recursive clone, drop and deserialization of a tree well
/// inside the thread's stack.
pub const MAX_DEPTH: usize = 64;

/// One YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// 1-based line and column of the node's first character.
    pub line: u64,
    pub column: u64,
    /// Explicit tag as written after resolution, e.g. `tag:yaml.org,2002:str`
    /// or `!Ref`; `None` when the node has no tag.
    pub tag: Option<String>,
    pub value: NodeValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// A scalar's text after escape processing; `plain` is false for quoted
    /// and block scalars, which are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    /// Entries in document order, keys as nodes so that they keep positions.
    Mapping(Vec<(Node, Node)>),
}

/// A syntax error in one file, or a limit it exceeds: where the parser
/// stopped and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub line: u64,
    pub column: u64,
    /// English description, for callers that print the error as is.
    pub message: String,
    pub kind: SyntaxErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    /// The text is not valid YAML.
    Invalid,
    /// The file would produce more than `limit` nodes ([`MAX_NODES_PER_FILE`]).
    TooManyNodes { limit: usize },
    /// A document nests collections deeper than `limit` ([`MAX_DEPTH`]).
    TooDeep { limit: usize },
}

impl Node {
    pub fn pos(&self, file: &str) -> SourcePos {
        SourcePos { file: file.to_owned(), line: self.line, column: self.column }
    }

    /// True for an explicit or implicit YAML null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        match &self.value {
            NodeValue::Scalar { text, plain } => {
                *plain && self.tag.is_none() && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Returns the value under mapping key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Returns the key node and value node under mapping key `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            NodeValue::Mapping(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Child for one path segment: a mapping key, or a sequence index.
    pub fn child(&self, segment: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Mapping(_) => self.get(segment),
            NodeValue::Sequence(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            NodeValue::Scalar { .. } => None,
        }
    }

    /// Finds the node at a dotted path such as `spec.accounts.1.name`, or the
    /// deepest ancestor that exists, so that an error about a missing value
    /// still points at the mapping that lacks it.
    pub fn locate(&self, path: &str) -> &Node {
        let mut node = self;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            match node.child(segment) {
                Some(child) => node = child,
                None => break,
            }
        }
        node
    }

    /// Like [`Node::locate`], but for a path whose last segment may be a
    /// mapping key containing dots (inline policy names, parameter names).
    pub fn locate_key(&self, parent: &str, key: &str) -> &Node {
        let parent_node = self.locate(parent);
        parent_node.get(key).unwrap_or(parent_node)
    }
}

/// Parses every document of a YAML stream into nodes.
///
/// A syntax error ends the document it occurs in; parsing resumes at the
/// next `---`, so that one file can report several broken documents.
/// Documents that fail are left out of the returned list, and their index is
/// skipped, so a document keeps its index whatever precedes it.
///
/// A file that exceeds [`MAX_NODES_PER_FILE`] or [`MAX_DEPTH`] stops at the
/// node that crossed the limit and returns that one error and no documents,
/// so that no part of a file that was not read to its end gets validated.
pub fn parse_documents(text: &str) -> (Vec<(usize, Node)>, Vec<SyntaxError>) {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let mut index = 0usize;
    let mut builder = TreeBuilder::default();

    while let Some(next) = parser.next() {
        match next {
            Ok((Event::DocumentStart(..), _)) => builder.reset(),
            Ok((Event::DocumentEnd, span)) => {
                let root = builder.root.take().unwrap_or_else(|| null_at(span));
                documents.push((index, root));
                index += 1;
            }
            Ok((event, span)) => {
                if let Err(kind) = builder.push(event, span) {
                    let message = match kind {
                        SyntaxErrorKind::TooManyNodes { limit } => format!("more than {limit} nodes"),
                        SyntaxErrorKind::TooDeep { limit } => format!("collections nested deeper than {limit} levels"),
                        SyntaxErrorKind::Invalid => String::new(),
                    };
                    let error =
                        SyntaxError { line: span.start.line() as u64, column: span.start.col() as u64 + 1, message, kind };
                    return (Vec::new(), vec![error]);
                }
            }
            Err(error) => {
                errors.push(syntax_error(&error));
                index += 1;
                builder.reset();
                match parser.proceed_next_document() {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(error) => {
                        errors.push(syntax_error(&error));
                        break;
                    }
                }
            }
        }
    }
    (documents, errors)
}

fn syntax_error(error: &ScanError) -> SyntaxError {
    let marker = error.marker();
    SyntaxError {
        line: marker.line() as u64,
        column: marker.col() as u64 + 1,
        message: error.info(),
        kind: SyntaxErrorKind::Invalid,
    }
}

fn null_at(span: Span) -> Node {
    Node {
        line: span.start.line() as u64,
        column: span.start.col() as u64 + 1,
        tag: None,
        value: NodeValue::Scalar { text: String::new(), plain: true },
    }
}

/// Collections under construction, innermost last.
#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Partial>,
    root: Option<Node>,
    /// Anchored nodes by anchor id, cloned at each alias.
    anchors: Vec<Anchored>,
    /// Nodes created so far in the file, alias copies included; kept across
    /// documents by [`TreeBuilder::reset`].
    nodes: usize,
}

struct Partial {
    node: Node,
    anchor: usize,
    /// A mapping key waiting for its value.
    pending_key: Option<Node>,
    /// Value of `TreeBuilder::nodes` when the collection started.
    nodes_before: usize,
    /// Height of the tallest child so far, 0 without children.
    child_height: usize,
}

struct Anchored {
    id: usize,
    node: Node,
    /// Nodes in the subtree, itself included.
    size: usize,
    /// Levels of collections in the subtree, 0 for a scalar.
    height: usize,
}

impl TreeBuilder {
    /// Starts a new document. The node count goes on, because the limit is per file.
    fn reset(&mut self) {
        self.stack.clear();
        self.root = None;
        self.anchors.clear();
    }

    /// Counts `size` new nodes of height `height` at the current depth.
    fn charge(&mut self, size: usize, height: usize) -> Result<(), SyntaxErrorKind> {
        self.nodes = self.nodes.saturating_add(size);
        if self.nodes > MAX_NODES_PER_FILE {
            return Err(SyntaxErrorKind::TooManyNodes { limit: MAX_NODES_PER_FILE });
        }
        if self.stack.len() + height > MAX_DEPTH {
            return Err(SyntaxErrorKind::TooDeep { limit: MAX_DEPTH });
        }
        Ok(())
    }

    fn push(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxErrorKind> {
        let line = span.start.line() as u64;
        let column = span.start.col() as u64 + 1;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.charge(1, 0)?;
                let node = Node {
                    line,
                    column,
                    tag: tag.map(|t| tag_text(&t)),
                    value: NodeValue::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain },
                };
                self.finish(node, anchor, 1, 0);
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.charge(1, 1)?;
                self.stack.push(Partial {
                    node: Node { line, column, tag: tag.map(|t| tag_text(&t)), value: NodeValue::Sequence(Vec::new()) },
                    anchor,
                    pending_key: None,
                    nodes_before: self.nodes - 1,
                    child_height: 0,
                });
            }
            Event::MappingStart(_, anchor, tag) => {
                self.charge(1, 1)?;
                self.stack.push(Partial {
                    node: Node { line, column, tag: tag.map(|t| tag_text(&t)), value: NodeValue::Mapping(Vec::new()) },
                    anchor,
                    pending_key: None,
                    nodes_before: self.nodes - 1,
                    child_height: 0,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(partial) = self.stack.pop() {
                    let size = self.nodes - partial.nodes_before;
                    self.finish(partial.node, partial.anchor, size, partial.child_height + 1);
                }
            }
            Event::Alias(id) => {
                let target = self.anchors.iter().rev().find(|a| a.id == id).map(|a| (a.size, a.height));
                // The parser rejects aliases to unknown anchors, so `None` only
                // happens for recursive aliases, which cannot be represented.
                let Some((size, height)) = target else {
                    self.charge(1, 0)?;
                    self.finish(null_at(span), 0, 1, 0);
                    return Ok(());
                };
                // Check the limits before cloning, so an alias bomb stops here.
                self.charge(size, height)?;
                let node =
                    self.anchors.iter().rev().find(|a| a.id == id).map(|a| a.node.clone()).unwrap_or_else(|| null_at(span));
                self.finish(node, 0, size, height);
            }
            _ => {}
        }
        Ok(())
    }

    /// Attaches a completed node to its parent, or makes it the root.
    fn finish(&mut self, node: Node, anchor: usize, size: usize, height: usize) {
        if anchor != 0 {
            self.anchors.push(Anchored { id: anchor, node: node.clone(), size, height });
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        parent.child_height = parent.child_height.max(height);
        match &mut parent.node.value {
            NodeValue::Sequence(items) => items.push(node),
            NodeValue::Mapping(entries) => match parent.pending_key.take() {
                None => parent.pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
            NodeValue::Scalar { .. } => {}
        }
    }
}

/// Tag as the user would recognise it: `!Ref` for local tags, the full URI
/// (`tag:yaml.org,2002:str`) for core ones.
fn tag_text(tag: &serde_saphyr::granit_parser::Tag) -> String {
    let (handle, suffix) = tag.parts();
    if handle.starts_with(CORE_TAG_PREFIX) || handle == "!" {
        format!("{handle}{suffix}")
    } else {
        format!("{}{suffix}", tag.original_handle())
    }
}

/// True when a node carries the core `!!str` tag, which forces a string.
pub fn is_str_tag(tag: &str) -> bool {
    tag == "tag:yaml.org,2002:str"
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn parse_positions() {
        let (docs, errors) = parse_documents("a: 1\nb:\n  - x\n  - {c: y}\n");
        assert!(errors.is_empty());
        let root = &docs[0].1;
        let x = root.locate("b.0");
        assert_eq!((x.line, x.column), (3, 5));
        let c = root.locate("b.1.c");
        assert_eq!((c.line, c.column), (4, 9));
        assert_eq!(c.as_str(), Some("y"));
    }

    #[test]
    fn parse_multiple_documents() {
        let (docs, errors) = parse_documents("a: 1\n---\nb: 2\n---\nc: 3\n");
        assert!(errors.is_empty());
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[2].1.locate("c").line, 5);
    }

    #[test]
    fn parse_recovers_after_error() {
        let (docs, errors) = parse_documents("a: [1, 2\n---\nb: 2\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].0, 1);
    }

    #[test]
    fn parse_alias_copies_anchor() {
        let (docs, _) = parse_documents("a: &x [1]\nb: *x\n");
        assert_eq!(docs[0].1.locate("b.0").as_str(), Some("1"));
    }

    /// Ten levels of nine aliases each, 563 bytes that expand to 9^10 nodes.
    pub(crate) fn alias_bomb() -> String {
        let mut text = String::from("x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
            text.push_str(&format!("x{level}: &a{level} [{aliases}]\n"));
        }
        text
    }

    #[test]
    fn parse_alias_bomb_stops() {
        let started = std::time::Instant::now();
        let (docs, errors) = parse_documents(&alias_bomb());
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        assert!(docs.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, SyntaxErrorKind::TooManyNodes { limit: MAX_NODES_PER_FILE });
        // The sequences a0 to a4 hold 74 732 nodes, and the first alias in x5 adds 66 430.
        assert_eq!((errors[0].line, errors[0].column), (6, 10));
    }

    #[test]
    fn parse_node_limit_counts_every_document() {
        let document = format!("a: [{}]\n", vec!["1"; 30_000].join(", "));
        let text = [document.as_str(); 4].join("---\n");
        let (docs, errors) = parse_documents(&text);
        assert!(docs.is_empty());
        assert_eq!(errors.first().map(|e| e.kind), Some(SyntaxErrorKind::TooManyNodes { limit: MAX_NODES_PER_FILE }));
        assert_eq!(errors.first().map(|e| e.line), Some(7));
    }

    #[test]
    fn parse_depth_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_documents(&ok).1.is_empty());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let (_, errors) = parse_documents(&deep);
        assert_eq!(errors.first().map(|e| e.kind), Some(SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }));
        assert_eq!(errors.first().map(|e| e.column), Some(MAX_DEPTH as u64 + 1));
    }

    #[test]
    fn parse_depth_limit_through_alias() {
        let half = MAX_DEPTH / 2 + 1;
        let text = format!("a: &x {}{}\nb: {}*x{}\n", "[".repeat(half), "]".repeat(half), "[".repeat(half), "]".repeat(half));
        let (_, errors) = parse_documents(&text);
        assert_eq!(errors.first().map(|e| e.kind), Some(SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }));
    }

    #[test]
    fn locate_falls_back_to_parent() {
        let (docs, _) = parse_documents("a:\n  b: 1\n");
        let node = docs[0].1.locate("a.missing");
        assert_eq!(node.line, 2);
    }

    #[test]
    fn parse_quoted_not_plain() {
        let (docs, _) = parse_documents("a: '1'\n");
        assert_eq!(docs[0].1.get("a").map(|n| &n.value), Some(&NodeValue::Scalar { text: "1".into(), plain: false }));
    }
}
