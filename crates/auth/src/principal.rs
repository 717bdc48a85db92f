use crate::AuthError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person who logged in.
    User,
    /// A service account authenticated by an API key.
    Service,
}

/// A verified identity with the permissions it holds for this request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// User id, or API key id for services.
    pub subject: String,
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: BTreeSet<String>,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }
}

/// The caller of one request: anonymous or a verified principal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller(Option<Principal>);

impl Caller {
    pub fn anonymous() -> Self {
        Caller(None)
    }

    pub fn authenticated(principal: Principal) -> Self {
        Caller(Some(principal))
    }

    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref()
    }

    pub fn require_authenticated(&self) -> Result<&Principal, AuthError> {
        self.0.as_ref().ok_or(AuthError::MissingCredentials)
    }

    /// The principal, if it holds `permission`; `UNAUTHENTICATED` for anonymous callers and
    /// `FORBIDDEN` for principals without it.
    pub fn require(&self, permission: &str) -> Result<&Principal, AuthError> {
        let principal = self.require_authenticated()?;
        if principal.has(permission) {
            Ok(principal)
        } else {
            Err(AuthError::MissingPermission(permission.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission;

    #[test]
    fn require_distinguishes_anonymous_from_forbidden() {
        assert_eq!(
            Caller::anonymous().require(permission::USER_READ),
            Err(AuthError::MissingCredentials)
        );
        let viewer = Caller::authenticated(Principal {
            subject: "u1".into(),
            kind: PrincipalKind::User,
            email: None,
            roles: vec!["viewer".into()],
            permissions: [permission::RESUME_READ.to_owned()].into(),
        });
        assert!(viewer.require(permission::RESUME_READ).is_ok());
        assert_eq!(
            viewer.require(permission::USER_WRITE),
            Err(AuthError::MissingPermission("user:write".into()))
        );
    }
}
