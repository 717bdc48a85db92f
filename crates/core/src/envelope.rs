//! Envelope encryption at rest. Every stored value gets its own random data key and is sealed
//! with AES-256-GCM; the data key is sealed in turn by a master key from config
//! (`server.encryption_keys`). Rotating a master key re-wraps the data keys
//! ([`Keyring::rewrap`]) without re-encrypting the values.
//!
//! Layout of a sealed value: `LOOMA-ENC1`, the master key id (1 length byte + bytes), the
//! wrapping nonce (12), the wrapped data key (32 + 16 tag), the data nonce (12), the ciphertext
//! with its tag. Values stored before encryption was configured carry no prefix and are read
//! as they are; [`Keyring::rewrap`] seals them. Text columns hold the same envelope in base64
//! after `looma-enc1:`.

use crate::Secret;
use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::borrow::Cow;

const MAGIC: &[u8] = b"LOOMA-ENC1";
const TEXT_PREFIX: &str = "looma-enc1:";
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Sealed under a master key this process was not given.
    #[error(
        "stored value sealed with the unknown master key `{0}` (add it to `server.encryption_keys`)"
    )]
    UnknownKey(String),
    /// Truncated, altered, or sealed under another key with the same id.
    #[error(
        "stored value does not decrypt (corrupted, or the key `{0}` is not the one it was sealed with)"
    )]
    Corrupt(String),
    #[error("config key `server.encryption_keys`: {0}")]
    Config(String),
}

struct MasterKey {
    id: String,
    key: LessSafeKey,
}

/// The master keys of this process: the first seals, all open.
pub struct Keyring {
    keys: Vec<MasterKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// No master key: values are stored and read as they are.
    pub fn disabled() -> Self {
        Keyring {
            keys: Vec::new(),
            rng: SystemRandom::new(),
        }
    }

    /// `id:base64` entries (32 random bytes each, e.g. `openssl rand -base64 32`); the first
    /// seals new values, every one opens.
    pub fn from_config(entries: &[Secret]) -> Result<Self, EnvelopeError> {
        let mut keys: Vec<MasterKey> = Vec::new();
        for entry in entries {
            let (id, encoded) = entry.expose().split_once(':').ok_or_else(|| {
                EnvelopeError::Config("each entry is `id:base64 of 32 bytes`".into())
            })?;
            if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(EnvelopeError::Config(
                    "a key id is 1 to 64 visible ASCII characters".into(),
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(EnvelopeError::Config(format!(
                    "the key id `{id}` appears twice"
                )));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| EnvelopeError::Config(format!("key `{id}` is not base64")))?;
            if bytes.len() != KEY_LEN {
                return Err(EnvelopeError::Config(format!(
                    "key `{id}` must be 32 bytes, not {}",
                    bytes.len()
                )));
            }
            keys.push(MasterKey {
                id: id.to_owned(),
                key: aead_key(&bytes),
            });
        }
        Ok(Keyring {
            keys,
            rng: SystemRandom::new(),
        })
    }

    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The id of the key that seals new values.
    pub fn active_key(&self) -> Option<&str> {
        self.keys.first().map(|k| k.id.as_str())
    }

    /// `plaintext` sealed under the active key; as it is when no key is configured.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let Some(master) = self.keys.first() else {
            return plaintext.to_vec();
        };
        let mut data_key = [0u8; KEY_LEN];
        self.fill(&mut data_key);
        let mut out = Vec::with_capacity(plaintext.len() + 128);
        out.extend_from_slice(MAGIC);
        out.push(master.id.len() as u8);
        out.extend_from_slice(master.id.as_bytes());
        let mut wrapped = data_key.to_vec();
        let wrap_nonce = self.nonce();
        master
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(wrap_nonce),
                Aad::empty(),
                &mut wrapped,
            )
            .expect("sealing 32 bytes cannot fail");
        out.extend_from_slice(&wrap_nonce);
        out.extend_from_slice(&wrapped);
        let data_nonce = self.nonce();
        let mut body = plaintext.to_vec();
        aead_key(&data_key)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(data_nonce),
                Aad::empty(),
                &mut body,
            )
            .expect("sealing in memory cannot fail");
        out.extend_from_slice(&data_nonce);
        out.extend_from_slice(&body);
        out
    }

    /// The plaintext of a stored value: opened when sealed, as it is when stored before
    /// encryption was configured.
    pub fn open<'a>(&self, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, EnvelopeError> {
        let Some(parsed) = parse(stored)? else {
            return Ok(Cow::Borrowed(stored));
        };
        let master = self
            .keys
            .iter()
            .find(|k| k.id == parsed.key_id)
            .ok_or_else(|| EnvelopeError::UnknownKey(parsed.key_id.to_owned()))?;
        let corrupt = || EnvelopeError::Corrupt(parsed.key_id.to_owned());
        let mut wrapped = parsed.wrapped.to_vec();
        let data_key = master
            .key
            .open_in_place(nonce(parsed.wrap_nonce), Aad::empty(), &mut wrapped)
            .map_err(|_| corrupt())?;
        let mut body = parsed.body.to_vec();
        let plaintext = aead_key(data_key)
            .open_in_place(nonce(parsed.data_nonce), Aad::empty(), &mut body)
            .map_err(|_| corrupt())?;
        let len = plaintext.len();
        body.truncate(len);
        Ok(Cow::Owned(body))
    }

    /// A stored value with its data key wrapped by the active master key (a plaintext value is
    /// sealed); `None` when it already is, or when no key is configured.
    pub fn rewrap(&self, stored: &[u8]) -> Result<Option<Vec<u8>>, EnvelopeError> {
        let Some(active) = self.keys.first() else {
            return Ok(None);
        };
        match parse(stored)? {
            Some(parsed) if parsed.key_id == active.id => Ok(None),
            _ => {
                let plaintext = self.open(stored)?;
                Ok(Some(self.seal(&plaintext)))
            }
        }
    }

    /// [`seal`](Self::seal) for a text column: base64 after `looma-enc1:`.
    pub fn seal_text(&self, plaintext: &str) -> String {
        if !self.is_enabled() {
            return plaintext.to_owned();
        }
        format!(
            "{TEXT_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(self.seal(plaintext.as_bytes()))
        )
    }

    /// [`open`](Self::open) for a text column.
    pub fn open_text(&self, stored: &str) -> Result<String, EnvelopeError> {
        let Some(encoded) = stored.strip_prefix(TEXT_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| EnvelopeError::Corrupt("?".into()))?;
        let plaintext = self.open(&sealed)?;
        String::from_utf8(plaintext.into_owned()).map_err(|_| EnvelopeError::Corrupt("?".into()))
    }

    /// [`rewrap`](Self::rewrap) for a text column.
    pub fn rewrap_text(&self, stored: &str) -> Result<Option<String>, EnvelopeError> {
        if !self.is_enabled() {
            return Ok(None);
        }
        if let Some(encoded) = stored.strip_prefix(TEXT_PREFIX) {
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| EnvelopeError::Corrupt("?".into()))?;
            if parse(&sealed)?.is_some_and(|p| Some(p.key_id) == self.active_key()) {
                return Ok(None);
            }
        }
        let plaintext = self.open_text(stored)?;
        Ok(Some(self.seal_text(&plaintext)))
    }

    fn fill(&self, bytes: &mut [u8]) {
        self.rng
            .fill(bytes)
            .expect("the system's random source is available");
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        self.fill(&mut nonce);
        nonce
    }
}

fn aead_key(bytes: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key"))
}

fn nonce(bytes: &[u8]) -> Nonce {
    Nonce::try_assume_unique_for_key(bytes).expect("12 bytes")
}

struct Parsed<'a> {
    key_id: &'a str,
    wrap_nonce: &'a [u8],
    wrapped: &'a [u8],
    data_nonce: &'a [u8],
    body: &'a [u8],
}

/// `None`: not sealed (no prefix).
fn parse(stored: &[u8]) -> Result<Option<Parsed<'_>>, EnvelopeError> {
    let Some(rest) = stored.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let corrupt = || EnvelopeError::Corrupt("?".into());
    let (&id_len, rest) = rest.split_first().ok_or_else(corrupt)?;
    let id_len = usize::from(id_len);
    let fixed = id_len + NONCE_LEN + KEY_LEN + TAG_LEN + NONCE_LEN + TAG_LEN;
    if rest.len() < fixed {
        return Err(corrupt());
    }
    let (id, rest) = rest.split_at(id_len);
    let key_id = std::str::from_utf8(id).map_err(|_| corrupt())?;
    let (wrap_nonce, rest) = rest.split_at(NONCE_LEN);
    let (wrapped, rest) = rest.split_at(KEY_LEN + TAG_LEN);
    let (data_nonce, body) = rest.split_at(NONCE_LEN);
    Ok(Some(Parsed {
        key_id,
        wrap_nonce,
        wrapped,
        data_nonce,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> Secret {
        Secret::new(format!(
            "{id}:{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 32])
        ))
    }

    #[test]
    fn values_round_trip_and_plaintext_never_appears() {
        let ring = Keyring::from_config(&[key("k1", 7)]).unwrap();
        let secret = b"-----BEGIN PRIVATE KEY----- very secret";
        let sealed = ring.seal(secret);
        assert!(sealed.starts_with(MAGIC));
        assert!(!sealed.windows(11).any(|w| w == b"very secret"));
        assert_eq!(ring.open(&sealed).unwrap().as_ref(), secret);
        // Two seals of one value differ (fresh data key and nonces).
        assert_ne!(ring.seal(secret), sealed);
        let text = ring.seal_text("pem text");
        assert!(text.starts_with(TEXT_PREFIX));
        assert_eq!(ring.open_text(&text).unwrap(), "pem text");
    }

    #[test]
    fn plaintext_from_before_encryption_is_read_and_rewrapped() {
        let ring = Keyring::from_config(&[key("k1", 7)]).unwrap();
        assert_eq!(
            ring.open(b"%PDF-1.7 old").unwrap().as_ref(),
            b"%PDF-1.7 old"
        );
        let sealed = ring.rewrap(b"%PDF-1.7 old").unwrap().expect("sealed now");
        assert_eq!(ring.open(&sealed).unwrap().as_ref(), b"%PDF-1.7 old");
        assert_eq!(
            ring.rewrap(&sealed).unwrap(),
            None,
            "already under the active key"
        );
        assert_eq!(ring.open_text("plain pem").unwrap(), "plain pem");
    }

    #[test]
    fn rotation_rewraps_under_the_new_key_and_the_old_one_can_go() {
        let old = Keyring::from_config(&[key("k1", 7)]).unwrap();
        let sealed = old.seal(b"resume bytes");
        let text = old.seal_text("pem");
        let both = Keyring::from_config(&[key("k2", 9), key("k1", 7)]).unwrap();
        let rewrapped = both.rewrap(&sealed).unwrap().expect("moved to k2");
        let rewrapped_text = both.rewrap_text(&text).unwrap().expect("moved to k2");
        let new_only = Keyring::from_config(&[key("k2", 9)]).unwrap();
        assert_eq!(new_only.open(&rewrapped).unwrap().as_ref(), b"resume bytes");
        assert_eq!(new_only.open_text(&rewrapped_text).unwrap(), "pem");
        assert_eq!(
            new_only.open(&sealed).unwrap_err(),
            EnvelopeError::UnknownKey("k1".into())
        );
    }

    #[test]
    fn tampering_and_a_wrong_key_are_refused_not_misread() {
        let ring = Keyring::from_config(&[key("k1", 7)]).unwrap();
        let mut sealed = ring.seal(b"value");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            ring.open(&sealed).unwrap_err(),
            EnvelopeError::Corrupt("k1".into())
        );
        let impostor = Keyring::from_config(&[key("k1", 8)]).unwrap();
        let sealed = ring.seal(b"value");
        assert!(matches!(
            impostor.open(&sealed),
            Err(EnvelopeError::Corrupt(_))
        ));
        assert!(matches!(
            ring.open(&sealed[..20]),
            Err(EnvelopeError::Corrupt(_))
        ));
    }

    #[test]
    fn config_is_checked() {
        assert!(Keyring::from_config(&[Secret::new("nocolon")]).is_err());
        assert!(Keyring::from_config(&[Secret::new("k:c2hvcnQ=")]).is_err());
        assert!(Keyring::from_config(&[key("k", 1), key("k", 2)]).is_err());
        assert!(!Keyring::disabled().is_enabled());
        assert_eq!(Keyring::disabled().seal(b"x"), b"x");
    }
}
