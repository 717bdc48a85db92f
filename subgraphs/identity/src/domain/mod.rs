//! Identity rules that need no I/O: input validation, password policy and hashing, secret
//! generation, the settings catalogue and version diffs.

pub mod credentials;
pub mod password;
pub mod settings;
pub mod validate;
