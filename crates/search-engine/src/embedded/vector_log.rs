//! The append-only operation log that makes [`AnnVectorIndex`](super::AnnVectorIndex) writes
//! durable before they are applied: one record per upserted or deleted point, fsynced per call.
//!
//! Record layout (little endian): `u32 payload length`, `u64 FNV-1a checksum of the payload`,
//! payload. A torn or corrupt tail (a crash mid-append) ends the replay and is cut off. An
//! append that fails part-way (disk full, I/O error) is cut back off at once, so a later,
//! acknowledged append never sits behind a torn record that replay would stop at.
//!
//! The checksum is 64-bit FNV-1a rather than a CRC32 from a crate (`crc32fast`) because it is
//! what every existing log was written with: replay stops at the first record whose checksum
//! fails, so a different checksum would read an old log as one long torn tail and cut off every
//! write since the last snapshot. Its job is telling an intact record from a torn or corrupted
//! one (not resisting tampering), which 64 bits of FNV-1a do as well as a CRC32; changing it
//! needs a format version in the file first.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
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

/// The operations of the intact records at the start of `bytes`, and where they end.
fn decode_records(bytes: &[u8]) -> (Vec<LoggedOperation>, usize) {
    let mut operations = Vec::new();
    let mut good_until = 0usize;
    let mut cursor = Cursor { bytes };
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
    (operations, good_until)
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
    let (operations, good_until) = decode_records(&bytes);
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
            file: Box::new(file),
            bytes: good_until as u64,
            broken: false,
        },
    ))
}

/// Where the log's bytes go: a file opened for appending (a fake in tests, to make writes fail).
trait LogFile: Send + Sync {
    /// Appends `records` and waits until they are on disk.
    fn append_synced(&mut self, records: &[u8]) -> io::Result<()>;
    /// Cuts the file back to `len` bytes, on disk.
    fn truncate_synced(&mut self, len: u64) -> io::Result<()>;
}

impl LogFile for File {
    fn append_synced(&mut self, records: &[u8]) -> io::Result<()> {
        self.write_all(records)?;
        self.sync_data()
    }

    fn truncate_synced(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_data()
    }
}

pub(crate) struct OperationLog {
    file: Box<dyn LogFile>,
    /// The length of the intact records: where the next append starts.
    bytes: u64,
    /// A failed append could not be cut back off: the file may end in a torn record, so no
    /// later write is acknowledged until the log is reopened (replay cuts the tail then).
    broken: bool,
}

impl OperationLog {
    /// Appends already framed records and waits until they are on disk. When the write fails
    /// part-way, the partial bytes are cut off again before the error is returned.
    pub(crate) fn append(&mut self, records: &[u8]) -> Result<(), EngineError> {
        if self.broken {
            return Err(EngineError::Internal(
                "the vector log could not be repaired after a failed write; restart the \
                 service to replay it"
                    .into(),
            ));
        }
        if let Err(error) = self.file.append_synced(records) {
            if let Err(truncate_error) = self.file.truncate_synced(self.bytes) {
                self.broken = true;
                tracing::error!(
                    %error, %truncate_error,
                    "vector log: a failed write could not be cut off; writes are refused until restart"
                );
            }
            return Err(EngineError::Internal(format!(
                "cannot write the vector log: {error}"
            )));
        }
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

    /// A log file in memory that fails the append whose number is `fail_on` after writing
    /// `partial` of its bytes; `truncate_fails` makes the repair fail too.
    struct FailingFile {
        bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        appends: usize,
        fail_on: usize,
        partial: usize,
        truncate_fails: bool,
    }

    impl LogFile for FailingFile {
        fn append_synced(&mut self, records: &[u8]) -> io::Result<()> {
            self.appends += 1;
            let mut bytes = self.bytes.lock().expect("lock");
            if self.appends == self.fail_on {
                bytes.extend_from_slice(&records[..self.partial.min(records.len())]);
                return Err(io::Error::other("no space left on device"));
            }
            bytes.extend_from_slice(records);
            Ok(())
        }

        fn truncate_synced(&mut self, len: u64) -> io::Result<()> {
            if self.truncate_fails {
                return Err(io::Error::other("read-only file system"));
            }
            self.bytes.lock().expect("lock").truncate(len as usize);
            Ok(())
        }
    }

    fn failing_log(
        truncate_fails: bool,
    ) -> (OperationLog, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
        let bytes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let file = FailingFile {
            bytes: bytes.clone(),
            appends: 0,
            fail_on: 2,
            partial: 5,
            truncate_fails,
        };
        let log = OperationLog {
            file: Box::new(file),
            bytes: 0,
            broken: false,
        };
        (log, bytes)
    }

    fn framed(id: &str) -> (LoggedOperation, Vec<u8>) {
        let operation = LoggedOperation::Delete { id: id.into() };
        let mut record = Vec::new();
        encode(&operation, &mut record);
        (operation, record)
    }

    #[test]
    fn a_failed_append_is_cut_off_so_later_writes_survive_replay() {
        let (mut log, bytes) = failing_log(false);
        let (first, first_record) = framed("a");
        let (_, failed_record) = framed("b");
        let (third, third_record) = framed("c");
        log.append(&first_record).expect("first append");
        assert!(log.append(&failed_record).is_err());
        log.append(&third_record).expect("append after the failure");
        let (replayed, good_until) = decode_records(&bytes.lock().expect("lock"));
        assert_eq!(replayed, vec![first, third]);
        assert_eq!(good_until as u64, log.len_bytes());
    }

    #[test]
    fn a_log_that_cannot_be_repaired_refuses_later_writes() {
        let (mut log, bytes) = failing_log(true);
        let (first, first_record) = framed("a");
        log.append(&first_record).expect("first append");
        assert!(log.append(&framed("b").1).is_err());
        assert!(log.append(&framed("c").1).is_err());
        // Only the acknowledged record is intact; nothing was acknowledged behind the tear.
        let (replayed, _) = decode_records(&bytes.lock().expect("lock"));
        assert_eq!(replayed, vec![first]);
    }
}
