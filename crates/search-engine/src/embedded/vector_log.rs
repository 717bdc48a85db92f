//! The append-only operation log that makes [`AnnVectorIndex`](super::AnnVectorIndex) writes
//! durable before they are applied: one record per upserted or deleted point, fsynced per call.
//!
//! Record layout (little endian): `u32 payload length`, `u64 FNV-1a checksum of the payload`,
//! payload. A torn or corrupt tail (a crash mid-append) ends the replay and is cut off.
//!
//! The checksum is 64-bit FNV-1a rather than a CRC32 from a crate (`crc32fast`) because it is
//! what every existing log was written with: replay stops at the first record whose checksum
//! fails, so a different checksum would read an old log as one long torn tail and cut off every
//! write since the last snapshot. Its job is telling an intact record from a torn or corrupted
//! one (not resisting tampering), which 64 bits of FNV-1a do as well as a CRC32; changing it
//! needs a format version in the file first.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use crate::{DocumentFields, EngineError};

const OP_UPSERT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_CLEAR: u8 = 3;
const HEADER_BYTES: usize = 12;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LoggedOperation {
    Upsert {
        key: u64,
        id: String,
        fields: Box<DocumentFields>,
        /// The unit-length direction of the vector.
        direction: Vec<f32>,
        norm: f32,
    },
    Delete {
        id: String,
    },
    Clear,
}

fn io_error(context: &str, path: &Path) -> impl Fn(std::io::Error) -> EngineError {
    let message = format!("{context} {}", path.display());
    move |error| EngineError::Internal(format!("{message}: {error}"))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Appends the framed record of `operation` to `out`.
pub(crate) fn encode(operation: &LoggedOperation, out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    match operation {
        LoggedOperation::Upsert {
            key,
            id,
            fields,
            direction,
            norm,
        } => {
            payload.push(OP_UPSERT);
            payload.extend_from_slice(&key.to_le_bytes());
            put_str(&mut payload, id);
            put_str(
                &mut payload,
                &serde_json::to_string(fields).unwrap_or_default(),
            );
            payload.extend_from_slice(&norm.to_le_bytes());
            payload.extend_from_slice(&(direction.len() as u32).to_le_bytes());
            for value in direction {
                payload.extend_from_slice(&value.to_le_bytes());
            }
        }
        LoggedOperation::Delete { id } => {
            payload.push(OP_DELETE);
            put_str(&mut payload, id);
        }
        LoggedOperation::Clear => payload.push(OP_CLEAR),
    }
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

fn decode_payload(payload: &[u8]) -> Option<LoggedOperation> {
    let mut cursor = Cursor { bytes: payload };
    match *cursor.take(1)?.first()? {
        OP_UPSERT => {
            let key = cursor.u64()?;
            let id = cursor.string()?;
            let fields = serde_json::from_str(&cursor.string()?).ok()?;
            let norm = cursor.f32()?;
            let dimension = cursor.u32()? as usize;
            let mut direction = Vec::with_capacity(dimension);
            for _ in 0..dimension {
                direction.push(cursor.f32()?);
            }
            Some(LoggedOperation::Upsert {
                key,
                id,
                fields,
                direction,
                norm,
            })
        }
        OP_DELETE => Some(LoggedOperation::Delete {
            id: cursor.string()?,
        }),
        OP_CLEAR => Some(LoggedOperation::Clear),
        _ => None,
    }
}

/// Reads every intact record of the log at `path` (missing file: none), cuts off a torn tail,
/// and returns the operations with the log opened for appending.
pub(crate) fn replay(path: &Path) -> Result<(Vec<LoggedOperation>, OperationLog), EngineError> {
    let mut bytes = Vec::new();
    if path.exists() {
        File::open(path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(io_error("cannot read", path))?;
    }
    let mut operations = Vec::new();
    let mut good_until = 0usize;
    let mut cursor = Cursor { bytes: &bytes };
    while let (Some(len), Some(checksum)) = (cursor.u32(), cursor.u64()) {
        let Some(payload) = cursor.take(len as usize) else {
            break;
        };
        if fnv1a(payload) != checksum {
            break;
        }
        let Some(operation) = decode_payload(payload) else {
            break;
        };
        operations.push(operation);
        good_until += HEADER_BYTES + len as usize;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error("cannot open", path))?;
    if good_until < bytes.len() {
        tracing::warn!(
            log = %path.display(),
            dropped_bytes = bytes.len() - good_until,
            "vector log had a torn tail (crash during a write); the unfinished write is dropped"
        );
        file.set_len(good_until as u64)
            .map_err(io_error("cannot truncate", path))?;
    }
    Ok((
        operations,
        OperationLog {
            file,
            bytes: good_until as u64,
        },
    ))
}

pub(crate) struct OperationLog {
    file: File,
    bytes: u64,
}

impl OperationLog {
    /// Appends already framed records and waits until they are on disk.
    pub(crate) fn append(&mut self, records: &[u8]) -> Result<(), EngineError> {
        self.file
            .write_all(records)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| {
                EngineError::Internal(format!("cannot write the vector log: {error}"))
            })?;
        self.bytes += records.len() as u64;
        Ok(())
    }

    pub(crate) fn len_bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let upsert = LoggedOperation::Upsert {
            key: 7,
            id: "r1".into(),
            fields: Box::new(DocumentFields {
                city: Some("上海".into()),
                ..DocumentFields::default()
            }),
            direction: vec![0.6, 0.8],
            norm: 5.0,
        };
        let delete = LoggedOperation::Delete { id: "r0".into() };
        let mut records = Vec::new();
        encode(&upsert, &mut records);
        encode(&delete, &mut records);
        let (replayed, mut log) = replay(&path).expect("empty log");
        assert!(replayed.is_empty());
        log.append(&records).expect("append");
        let mut torn = Vec::new();
        encode(&LoggedOperation::Clear, &mut torn);
        log.append(&torn[..torn.len() - 1]).expect("append torn");
        drop(log);
        let (replayed, log) = replay(&path).expect("replay");
        assert_eq!(replayed, vec![upsert, delete]);
        assert_eq!(log.len_bytes(), records.len() as u64);
    }
}
