//! Password policy and argon2id hashing.
//!
//! The policy follows NIST SP 800-63B in spirit: length matters most, a short list of
//! notorious passwords is refused, and so is a password containing the account's own email
//! name. Hashing is deliberately slow; callers run it on a blocking thread.

use crate::IdentityError;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_LENGTH: usize = 10;
/// Bounds the work an attacker can make us do per login attempt.
pub const MAX_LENGTH: usize = 256;

const NOTORIOUS: &[&str] = &[
    "password",
    "passw0rd",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "abc123",
    "111111",
    "000000",
    "changeme",
    "looma",
    "recruiter",
];

/// Why `password` is too weak for the account `email`, if it is.
pub fn check_strength(password: &str, email: &str) -> Result<(), IdentityError> {
    let weak = |reason: &str| Err(IdentityError::WeakPassword(reason.to_owned()));
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return weak("use at least 10 characters");
    }
    if length > MAX_LENGTH {
        return weak("use at most 256 characters");
    }
    let lower = password.to_lowercase();
    if NOTORIOUS.iter().any(|common| {
        lower == *common
            || lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!') == *common
    }) {
        return weak("this password is on lists attackers try first");
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 4 {
        return weak("use more than three different characters");
    }
    if let Some(name) = email.split('@').next().filter(|n| n.len() >= 4)
        && lower.contains(&name.to_lowercase())
    {
        return weak("do not include your email name");
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    if length < 16 && classes < 2 {
        return weak("mix letters with digits or symbols, or use 16+ characters");
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| IdentityError::Internal(format!("hashing password: {e}")))
}

/// True when `password` matches the stored hash. A malformed stored hash never matches.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_rules() {
        let email = "maria.lopez@example.com";
        assert!(check_strength("correct horse battery", email).is_ok());
        assert!(check_strength("Tr1cky-Pass", email).is_ok());
        for weak in [
            "short1A",
            "password123",
            "aaaaaaaaaaaaaaaa",
            "allletterslower",
            "xmaria.lopez99",
        ] {
            assert!(
                matches!(
                    check_strength(weak, email),
                    Err(IdentityError::WeakPassword(_))
                ),
                "{weak} must be weak"
            );
        }
    }

    #[test]
    fn hash_and_verify() {
        let stored = hash("Tr1cky-Pass").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("Tr1cky-Pass", &stored));
        assert!(!verify("Tr1cky-Pass!", &stored));
        assert!(!verify("anything", "not-a-hash"));
    }
}
