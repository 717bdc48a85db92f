//! The permission vocabulary shared by every subgraph, and the roles identity seeds.
//!
//! Permissions are `resource:action` strings. A subgraph checks them with
//! [`crate::Caller::require`]; identity refuses to grant a permission not listed here.

pub const RESUME_READ: &str = "resume:read";
pub const RESUME_WRITE: &str = "resume:write";
/// See contact fields (phone, email) unmasked.
pub const RESUME_PII: &str = "resume:pii";
pub const JOB_READ: &str = "job:read";
pub const JOB_WRITE: &str = "job:write";
pub const MATCH_RUN: &str = "match:run";
pub const SEARCH_READ: &str = "search:read";
/// Write into search indexes: service credentials only.
pub const SEARCH_INDEX: &str = "search:index";
pub const CHAT_USE: &str = "chat:use";
/// Read every user's conversations and manage the assistant's knowledge base.
pub const CHAT_ADMIN: &str = "chat:admin";
pub const CONFIG_READ: &str = "config:read";
pub const CONFIG_WRITE: &str = "config:write";
pub const USER_READ: &str = "user:read";
pub const USER_WRITE: &str = "user:write";
pub const APIKEY_MANAGE: &str = "apikey:manage";
/// Rotate signing keys and other security-sensitive operations.
pub const SECURITY_ADMIN: &str = "security:admin";
/// Platform health, alerts, alert rules and usage (the monitor subgraph).
pub const MONITOR_READ: &str = "monitor:read";
/// Read the schema registry: subgraphs, schema and supergraph history, diffs, usage; routers
/// read the supergraph they serve with it.
pub const SCHEMA_READ: &str = "schema:read";
/// Publish subgraph schemas, register live subgraph instances, report operation usage.
pub const SCHEMA_PUBLISH: &str = "schema:publish";
/// Report per-user usage to the monitor: service credentials only (the components that
/// count it).
pub const USAGE_REPORT: &str = "usage:report";

pub const ALL: &[&str] = &[
    RESUME_READ,
    RESUME_WRITE,
    RESUME_PII,
    JOB_READ,
    JOB_WRITE,
    MATCH_RUN,
    SEARCH_READ,
    SEARCH_INDEX,
    CHAT_USE,
    CHAT_ADMIN,
    CONFIG_READ,
    CONFIG_WRITE,
    USER_READ,
    USER_WRITE,
    APIKEY_MANAGE,
    SECURITY_ADMIN,
    MONITOR_READ,
    SCHEMA_READ,
    SCHEMA_PUBLISH,
    USAGE_REPORT,
];

pub fn is_known(permission: &str) -> bool {
    ALL.contains(&permission)
}

/// Roles created by the first migration; more can be added at run time.
pub struct BuiltinRole {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: &'static [&'static str],
}

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "admin",
        description: "Everything, including users, keys and configuration",
        permissions: ALL,
    },
    BuiltinRole {
        name: "recruiter",
        description: "Works with resumes, jobs, matching, search and chat",
        permissions: &[
            RESUME_READ,
            RESUME_WRITE,
            RESUME_PII,
            JOB_READ,
            JOB_WRITE,
            MATCH_RUN,
            SEARCH_READ,
            CHAT_USE,
            CONFIG_READ,
        ],
    },
    BuiltinRole {
        name: "viewer",
        description: "Reads resumes (contacts masked), jobs and search results",
        permissions: &[RESUME_READ, JOB_READ, SEARCH_READ, CONFIG_READ],
    },
];
