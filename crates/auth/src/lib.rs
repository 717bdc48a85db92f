//! Who is calling, and may they do this?
//!
//! - [`permission`]: the platform's permission vocabulary and built-in roles.
//! - [`Principal`] / [`Caller`]: a verified identity and the permission checks resolvers make.
//! - [`token`]: ES256 access tokens, signing keys and the JWKS document that publishes them.
//! - [`forwarded`]: the HMAC-signed principal header the router sets for subgraphs.
//! - [`Authenticator`]: turns request headers into a [`Caller`] through a [`CredentialVerifier`].
//! - [`revocation`]: the list of revoked tokens and API keys identity publishes and every
//!   verifier applies.
//!
//! Nothing here touches a database or the network: verifiers that need either are implemented
//! by the component that owns the data (the identity subgraph) or the JWKS (the router).

mod authenticate;
mod error;
pub mod forwarded;
pub mod permission;
mod principal;
pub mod revocation;
pub mod token;

pub use authenticate::{API_KEY_HEADER, Authenticator, CredentialVerifier};
pub use error::AuthError;
pub use forwarded::{
    DELEGATION_HEADER, Delegation, FORWARDED_PRINCIPAL_HEADER, ForwardedPrincipalCodec,
};
pub use principal::{Caller, Principal, PrincipalKind};
