//! Shape checks for user-supplied names and addresses.

use crate::IdentityError;

pub const MAX_EMAIL_LEN: usize = 320;
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

/// Trimmed, lower-cased email, or why it is not one.
pub fn normalize_email(raw: &str) -> Result<String, IdentityError> {
    let email = raw.trim().to_lowercase();
    let invalid = |reason: &str| IdentityError::invalid("email", reason);
    if email.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(invalid("is longer than 320 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain spaces"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid("must look like name@example.com"));
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.contains('@') || !domain_ok {
        return Err(invalid("must look like name@example.com"));
    }
    Ok(email)
}

pub fn normalize_display_name(raw: &str) -> Result<String, IdentityError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(IdentityError::invalid("displayName", "must not be empty"));
    }
    if name.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(IdentityError::invalid(
            "displayName",
            "is longer than 200 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(IdentityError::invalid(
            "displayName",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Role names: `a-z`, digits, `_` and `-`, starting with a letter, 2 to 64 characters.
pub fn validate_role_name(name: &str) -> Result<(), IdentityError> {
    let valid = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            "name",
            "role names use a-z, 0-9, `_` and `-`, start with a letter, 2-64 characters",
        ))
    }
}

/// Every permission must be in the platform's vocabulary.
pub fn validate_permissions(permissions: &[String]) -> Result<(), IdentityError> {
    match permissions
        .iter()
        .find(|p| !looma_auth::permission::is_known(p))
    {
        Some(unknown) => Err(IdentityError::UnknownPermission(unknown.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("  Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "ana@x..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn role_names() {
        assert!(validate_role_name("hiring-manager").is_ok());
        for bad in [
            "",
            "a",
            "Admin",
            "1abc",
            "has space",
            "x".repeat(65).as_str(),
        ] {
            assert!(validate_role_name(bad).is_err(), "{bad} must be rejected");
        }
    }
}
