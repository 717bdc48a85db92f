//! The response tree the executor builds from subgraph answers and shapes into the client's
//! response.
//!
//! A JSON value made for this work: objects are short vectors of (key, value) in the order the
//! subgraph wrote them (a selection set has a handful of fields, so a linear scan beats
//! hashing or a tree), and keys and strings are stored inline up to 24 bytes, so the typical
//! `id`, `name` or `__typename` costs no allocation. Parsed straight from a subgraph's bytes
//! with serde; written back out with serde (representations, leaf values).

use compact_str::CompactString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Node {
    #[default]
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(CompactString),
    List(Vec<Node>),
    Object(Object),
}

/// An object's fields in the order they arrived; a key appears once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(Vec<(CompactString, Node)>);

impl Object {
    pub fn with_capacity(capacity: usize) -> Self {
        Object(Vec::with_capacity(capacity))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// [`get`](Self::get), trying position `hint` first: siblings in a list came from one
    /// selection set and keep their keys in the same order, so the position of the key in
    /// the previous sibling usually finds it in one comparison. `hint` becomes where it was.
    pub fn get_hinted(&self, key: &str, hint: &mut usize) -> Option<&Node> {
        if let Some((k, v)) = self.0.get(*hint)
            && k == key
        {
            return Some(v);
        }
        let index = self.0.iter().position(|(k, _)| k == key)?;
        *hint = index;
        Some(&self.0[index].1)
    }

    /// [`get_mut`](Self::get_mut) with a position hint, as [`get_hinted`](Self::get_hinted).
    pub fn get_mut_hinted(&mut self, key: &str, hint: &mut usize) -> Option<&mut Node> {
        let index = match self.0.get(*hint) {
            Some((k, _)) if k == key => *hint,
            _ => self.0.iter().position(|(k, _)| k == key)?,
        };
        *hint = index;
        Some(&mut self.0[index].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Sets `key` (in place when present, else appended).
    pub fn insert(&mut self, key: &str, value: Node) {
        match self.get_mut(key) {
            Some(existing) => *existing = value,
            None => self.0.push((CompactString::new(key), value)),
        }
    }

    /// Adds a field the object is known not to have.
    pub fn append(&mut self, key: CompactString, value: Node) {
        debug_assert!(!self.contains_key(&key));
        self.0.push((key, value));
    }

    /// Takes `key` out, keeping the other fields in order.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The `__typename` the object carries, if any.
    pub fn typename(&self) -> Option<&str> {
        self.get("__typename").and_then(Node::as_str)
    }
}

impl IntoIterator for Object {
    type Item = (CompactString, Node);
    type IntoIter = std::vec::IntoIter<(CompactString, Node)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut Vec<Node>> {
        match self {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Moves the value out, leaving null.
    pub fn take(&mut self) -> Node {
        std::mem::take(self)
    }
}

impl From<serde_json::Value> for Node {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Node::Null,
            serde_json::Value::Bool(b) => Node::Bool(b),
            serde_json::Value::Number(n) => Node::Number(n),
            serde_json::Value::String(s) => Node::String(s.into()),
            serde_json::Value::Array(items) => {
                Node::List(items.into_iter().map(Node::from).collect())
            }
            serde_json::Value::Object(map) => Node::Object(Object(
                map.into_iter()
                    .map(|(k, v)| (CompactString::from(k), Node::from(v)))
                    .collect(),
            )),
        }
    }
}

impl From<Node> for serde_json::Value {
    fn from(node: Node) -> Self {
        match node {
            Node::Null => serde_json::Value::Null,
            Node::Bool(b) => serde_json::Value::Bool(b),
            Node::Number(n) => serde_json::Value::Number(n),
            Node::String(s) => serde_json::Value::String(s.into()),
            Node::List(items) => {
                serde_json::Value::Array(items.into_iter().map(serde_json::Value::from).collect())
            }
            Node::Object(object) => serde_json::Value::Object(
                object
                    .into_iter()
                    .map(|(k, v)| (k.into(), serde_json::Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Number(n) => n.serialize(serializer),
            Node::String(s) => serializer.serialize_str(s),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key.as_str(), value)?;
        }
        map.end()
    }
}

/// A key read without an intermediate `String`.
struct Key(CompactString);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(CompactString::new(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
                Ok(Key(CompactString::from(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(CompactString::new(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(CompactString::from(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut object = Object::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            // JSON allows a repeated key: the last one wins, as in serde_json.
            match object.get_mut(&key) {
                Some(existing) => *existing = value,
                None => object.0.push((key, value)),
            }
        }
        Ok(Node::Object(object))
    }
}

/// Parses a subgraph's answer.
pub fn parse(bytes: &[u8]) -> Result<Node, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json_in_field_order() {
        let text = r#"{"z":1,"a":[true,null,"x",-2,1.5],"long key that is longer than twenty-four":{"k":"a string longer than twenty-four bytes"}}"#;
        let node = parse(text.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&node).unwrap(), text);
        // Through serde_json's (sorted) maps and back: the same JSON, keys aside.
        let value: serde_json::Value = node.into();
        assert_eq!(
            value,
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
        assert_eq!(serde_json::Value::from(Node::from(value.clone())), value);
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value() {
        let node = parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&node).unwrap(),
            json!({"a": 3, "b": 2})
        );
        assert_eq!(serde_json::to_string(&node).unwrap(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn escapes_survive_both_ways() {
        let node = parse(br#"{"q\"uote":"line\nbreak \u00e9 \ud83d\ude00"}"#).unwrap();
        let object = node.as_object().unwrap();
        assert_eq!(
            object.get("q\"uote").and_then(Node::as_str),
            Some("line\nbreak é 😀")
        );
        let again = parse(serde_json::to_string(&node).unwrap().as_bytes()).unwrap();
        assert_eq!(again, node);
    }

    #[test]
    fn objects_insert_replace_and_remove_in_order() {
        let mut object = Object::default();
        object.insert("a", Node::Bool(true));
        object.insert("b", Node::Null);
        object.insert("a", Node::Bool(false));
        assert_eq!(
            object.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(object.get("a"), Some(&Node::Bool(false)));
        assert_eq!(object.remove("a"), Some(Node::Bool(false)));
        assert!(!object.contains_key("a"));
        assert_eq!(object.remove("missing"), None);
    }
}
