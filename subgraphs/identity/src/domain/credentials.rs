//! Opaque secrets handed to clients: refresh tokens and API keys.
//!
//! Both are long random strings shown to the client once and stored only as SHA-256 digests;
//! with 256 bits of entropy a fast hash is enough (argon2 is for human-chosen passwords).
//! API keys carry a short public prefix so a key can be found without scanning.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const REFRESH_TOKEN_TAG: &str = "lrt_";
const API_KEY_TAG: &str = "lk_";
const API_KEY_PREFIX_LEN: usize = 10;

fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// Hex SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct NewRefreshToken {
    pub plaintext: String,
    pub digest: String,
}

pub fn new_refresh_token() -> NewRefreshToken {
    let plaintext = format!("{REFRESH_TOKEN_TAG}{}", random_token(32));
    NewRefreshToken {
        digest: digest(&plaintext),
        plaintext,
    }
}

pub struct NewApiKey {
    pub plaintext: String,
    pub prefix: String,
    pub digest: String,
}

/// `lk_<prefix>_<secret>`: the prefix is public (listed in the UI), the secret is not.
pub fn new_api_key() -> NewApiKey {
    let prefix: String = random_token(16)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(API_KEY_PREFIX_LEN)
        .collect::<String>()
        .to_ascii_lowercase();
    let plaintext = format!("{API_KEY_TAG}{prefix}_{}", random_token(32));
    NewApiKey {
        digest: digest(&plaintext),
        prefix,
        plaintext,
    }
}

/// The public prefix of a presented API key, if it has the right shape.
pub fn api_key_prefix(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(API_KEY_TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    (!prefix.is_empty() && prefix.len() <= 32 && secret.len() >= 32).then_some(prefix)
}

/// Constant-time comparison of two digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_findable_by_prefix() {
        let key = new_api_key();
        assert_eq!(api_key_prefix(&key.plaintext), Some(key.prefix.as_str()));
        assert!(digests_match(&digest(&key.plaintext), &key.digest));
        assert_eq!(api_key_prefix("lk_short"), None);
        assert_eq!(api_key_prefix("nope"), None);
        assert_ne!(new_api_key().plaintext, key.plaintext);
    }

    #[test]
    fn refresh_tokens_are_random() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.digest.len(), 64);
    }
}
