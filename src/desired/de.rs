//! A serde `Deserializer` over [`Node`], so that typed documents are built
//! from the same tree that later locates values for semantic errors, and so
//! that each type error carries the position of the node that caused it.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::position::{Node, NodeValue, is_str_tag};

/// A failure to build a typed value, with the 1-based line and column of
/// the node it happened at.
#[derive(Clone, Debug, PartialEq)]
pub struct DeError {
    pub kind: DeErrorKind,
    pub at: Option<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeErrorKind {
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    MissingField {
        field: String,
    },
    DuplicateField {
        field: String,
    },
    WrongType {
        found: String,
        expected: String,
    },
    UnknownVariant {
        value: String,
        expected: Vec<String>,
    },
    /// Tags other than `!!str` have no meaning in desired-state files.
    UnsupportedTag {
        tag: String,
    },
    /// Anything else a `Deserialize` impl reports, e.g. an invalid date.
    Invalid {
        message: String,
    },
}

impl DeError {
    fn new(kind: DeErrorKind) -> Self {
        DeError { kind, at: None }
    }

    /// Sets the position unless a deeper node has set it already.
    fn at(mut self, node: &Node) -> Self {
        if self.at.is_none() {
            self.at = Some((node.line, node.column));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeErrorKind::Invalid { message: msg.to_string() })
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::WrongType { found: unexp.to_string(), expected: exp.to_string() })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownVariant {
            value: variant.to_owned(),
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownField {
            field: field.to_owned(),
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::MissingField { field: field.to_owned() })
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::DuplicateField { field: field.to_owned() })
    }
}

/// Builds a `T` from a node.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &Node) -> Result<T, DeError> {
    T::deserialize(node)
}

/// A plain scalar resolved by the YAML 1.2 core schema.
enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
}

fn resolve<'a>(node: &'a Node) -> Result<Resolved<'a>, DeError> {
    let NodeValue::Scalar { text, plain } = &node.value else { unreachable!("resolve is only called on scalars") };
    if let Some(tag) = &node.tag {
        if is_str_tag(tag) {
            return Ok(Resolved::Str(text));
        }
        return Err(DeError::new(DeErrorKind::UnsupportedTag { tag: tag.clone() }).at(node));
    }
    if !plain {
        return Ok(Resolved::Str(text));
    }
    let t = text.as_str();
    Ok(match t {
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        "true" | "True" | "TRUE" => Resolved::Bool(true),
        "false" | "False" | "FALSE" => Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        _ => resolve_number(t).unwrap_or(Resolved::Str(t)),
    })
}

fn resolve_number(t: &str) -> Option<Resolved<'_>> {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if let Some(hex) = t.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(Resolved::UInt);
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return u64::from_str_radix(oct, 8).ok().map(Resolved::UInt);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = t.parse::<i64>() {
            return Some(Resolved::Int(i));
        }
        return t.parse::<u64>().ok().map(Resolved::UInt);
    }
    let float_chars = digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_chars && digits.bytes().any(|b| b.is_ascii_digit()) {
        return t.parse::<f64>().ok().map(Resolved::Float);
    }
    None
}

impl<'de> de::Deserializer<'de> for &Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.value {
            NodeValue::Scalar { .. } => match resolve(self)? {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::UInt(u) => visitor.visit_u64(u),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_str(s),
            },
            NodeValue::Sequence(items) => visitor.visit_seq(SeqNodes { items: items.iter() }),
            NodeValue::Mapping(entries) => self.visit_mapping(entries, visitor),
        };
        result.map_err(|e: DeError| e.at(self))
    }

    /// Any scalar reads as its text when a string is expected, so that
    /// `version: 1.10` or an unquoted account id keep their exact digits.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value {
            NodeValue::Scalar { text, .. } if !self.is_null() => {
                if let Some(tag) = &self.tag
                    && !is_str_tag(tag)
                {
                    return Err(DeError::new(DeErrorKind::UnsupportedTag { tag: tag.clone() }).at(self));
                }
                visitor.visit_str(text).map_err(|e: DeError| e.at(self))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none().map_err(|e: DeError| e.at(self))
        } else {
            visitor.visit_some(self).map_err(|e: DeError| e.at(self))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self).map_err(|e: DeError| e.at(self))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.value {
            NodeValue::Scalar { text, .. } => {
                visitor.visit_enum(text.as_str().into_deserializer()).map_err(|e: DeError| e.at(self))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
    }
}

impl Node {
    fn visit_mapping<'de, V: Visitor<'de>>(&self, entries: &[(Node, Node)], visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(MapNodes { entries: entries.iter(), value: None })
    }
}

struct SeqNodes<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> SeqAccess<'de> for SeqNodes<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(node).map(Some).map_err(|e| e.at(node)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapNodes<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de, 'a> MapAccess<'de> for MapNodes<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key).map(Some).map_err(|e| e.at(key))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self.value.take().expect("next_value_seed is called after next_key_seed");
        seed.deserialize(node).map_err(|e| e.at(node))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::desired::position::parse_documents;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Sample {
        name: String,
        count: i32,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    fn node(text: &str) -> Node {
        parse_documents(text).0.remove(0).1
    }

    #[test]
    fn from_node_reads_struct() {
        let s: Sample = from_node(&node("name: 007\ncount: 3\nratio: 80\ntags: {a: 1}\n")).unwrap();
        assert_eq!(s.name, "007");
        assert_eq!(s.count, 3);
        assert_eq!(s.ratio, Some(80.0));
        assert_eq!(s.tags.get("a").map(String::as_str), Some("1"));
    }

    #[test]
    fn from_node_unknown_field_position() {
        let err = from_node::<Sample>(&node("name: a\ncount: 1\n  \nextra: 2\n")).unwrap_err();
        assert!(matches!(err.kind, DeErrorKind::UnknownField { ref field, .. } if field == "extra"));
        assert_eq!(err.at, Some((4, 1)));
    }

    #[test]
    fn from_node_wrong_type_position() {
        let err = from_node::<Sample>(&node("name: a\ncount: many\n")).unwrap_err();
        assert!(matches!(err.kind, DeErrorKind::WrongType { .. }));
        assert_eq!(err.at, Some((2, 8)));
    }

    #[test]
    fn from_node_missing_field() {
        let err = from_node::<Sample>(&node("name: a\n")).unwrap_err();
        assert_eq!(err.kind, DeErrorKind::MissingField { field: "count".into() });
        assert_eq!(err.at, Some((1, 1)));
    }

    #[test]
    fn from_node_json_value_types() {
        let v: serde_json::Value = from_node(&node("a: 1\nb: '1'\nc: true\nd: 2012-10-17\ne: ~\nf: 1.5\n")).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "b": "1", "c": true, "d": "2012-10-17", "e": null, "f": 1.5}));
    }
}
