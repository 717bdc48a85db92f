//! What the assistant may do for the user who asks: search candidates or jobs, match
//! candidates to a job, read a resume's summary, look up a job. Each tool names the
//! permissions it needs; a tool the user may not use is never offered, and every call runs as
//! that user (their principal signed as the router signs it), so the owning subgraph applies
//! the user's own permissions — contact details stay masked without `resume:pii`.
//!
//! The calls go straight to the subgraph that owns each capability rather than back through
//! the router: the router's edge deliberately trusts no principal a caller presents, only
//! tokens and API keys, and chat never sees the user's token.

use looma_auth::{ForwardedPrincipalCodec, Principal, permission};
use looma_llm::{ToolCall, ToolSpec};
use looma_server::ServiceClient;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one tool call may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
/// Most results a search or match tool returns to the model.
const MAX_RESULTS: u64 = 10;

/// The GraphQL URLs of the subgraphs tools call.
#[derive(Clone, Debug)]
pub struct ToolTargets {
    pub search_url: String,
    pub resume_url: String,
    pub matching_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Search,
    Resume,
    Matching,
}

struct Tool {
    name: &'static str,
    description: &'static str,
    parameters: fn() -> Value,
    permissions: &'static [&'static str],
    target: Target,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "search_candidates",
        description: "Find candidates whose resumes match a query (skills, titles, cities; Chinese or English). Returns resume ids, titles and snippets.",
        parameters: || query_schema("What to look for in resumes"),
        permissions: &[permission::SEARCH_READ, permission::RESUME_READ],
        target: Target::Search,
    },
    Tool {
        name: "search_jobs",
        description: "Find job postings matching a query. Returns job ids, titles and snippets.",
        parameters: || query_schema("What to look for in job postings"),
        permissions: &[permission::SEARCH_READ, permission::JOB_READ],
        target: Target::Search,
    },
    Tool {
        name: "match_candidates",
        description: "Rank candidates for a job by fit. Returns resume ids, scores and matched and missing skills.",
        parameters: || {
            json!({
                "type": "object",
                "properties": {
                    "job_id": {"type": "string", "description": "The job's id"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS}
                },
                "required": ["job_id"]
            })
        },
        permissions: &[
            permission::MATCH_RUN,
            permission::RESUME_READ,
            permission::JOB_READ,
        ],
        target: Target::Matching,
    },
    Tool {
        name: "resume_summary",
        description: "Read a candidate's profile summary: headline, years of experience, degree, city, skills.",
        parameters: || id_schema("The resume's id"),
        permissions: &[permission::RESUME_READ],
        target: Target::Resume,
    },
    Tool {
        name: "get_job",
        description: "Look up a job posting: title, company, city, status, required skills.",
        parameters: || id_schema("The job's id"),
        permissions: &[permission::JOB_READ],
        target: Target::Matching,
    },
];

fn query_schema(what: &str) -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": what},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS}
        },
        "required": ["query"]
    })
}

fn id_schema(what: &str) -> Value {
    json!({
        "type": "object",
        "properties": {"id": {"type": "string", "description": what}},
        "required": ["id"]
    })
}

fn allowed(tool: &Tool, principal: &Principal) -> bool {
    tool.permissions.iter().all(|p| principal.has(p))
}

/// The tools `principal` may use, as the model is offered them.
pub fn offered(principal: &Principal) -> Vec<ToolSpec> {
    TOOLS
        .iter()
        .filter(|tool| allowed(tool, principal))
        .map(|tool| ToolSpec {
            name: tool.name.to_owned(),
            description: tool.description.to_owned(),
            parameters: (tool.parameters)(),
        })
        .collect()
}

/// Runs tool calls as one user.
pub struct ToolRunner {
    targets: ToolTargets,
    codec: ForwardedPrincipalCodec,
    principal: Principal,
}

impl ToolRunner {
    pub fn new(targets: ToolTargets, codec: ForwardedPrincipalCodec, principal: Principal) -> Self {
        ToolRunner {
            targets,
            codec,
            principal,
        }
    }

    /// The result the model reads: JSON text, or `{"error": …}` — a refused or failed call is
    /// an answer the model can explain, never a failed turn.
    pub async fn run(&self, call: &ToolCall) -> String {
        match self.try_run(call).await {
            Ok(value) => value.to_string(),
            Err(error) => json!({ "error": error }).to_string(),
        }
    }

    async fn try_run(&self, call: &ToolCall) -> Result<Value, String> {
        let tool = TOOLS
            .iter()
            .find(|tool| tool.name == call.name)
            .ok_or_else(|| format!("no tool named `{}`", call.name))?;
        if !allowed(tool, &self.principal) {
            return Err(format!("`{}` is not allowed for this user", tool.name));
        }
        let arguments: Value = if call.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&call.arguments)
                .map_err(|e| format!("the arguments are not a JSON object: {e}"))?
        };
        let text = |key: &str| -> Result<String, String> {
            arguments[key]
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= 500)
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("`{key}` must be a non-empty string of at most 500 characters")
                })
        };
        let limit = arguments["limit"]
            .as_u64()
            .unwrap_or(5)
            .clamp(1, MAX_RESULTS);
        let (query, variables) = match tool.name {
            "search_candidates" | "search_jobs" => {
                let collection = if tool.name == "search_jobs" { "JOBS" } else { "RESUMES" };
                (
                    format!(
                        "query($q: String!, $k: Int!) {{ hybridSearch(query: $q, topK: $k, collection: {collection}) {{ id title snippet score }} }}"
                    ),
                    json!({"q": text("query")?, "k": limit}),
                )
            }
            "match_candidates" => (
                "query($job: ID!, $limit: Int!) { matchCandidates(jobId: $job, limit: $limit) { matches { score resume { id } explanation { matchedSkills missingSkills } } } }".to_owned(),
                json!({"job": text("job_id")?, "limit": limit}),
            ),
            "resume_summary" => (
                "query($id: ID!) { resume(id: $id) { id status skills profile { name headline totalYears highestDegree city summary } } }".to_owned(),
                json!({"id": text("id")?}),
            ),
            _ => (
                "query($id: ID!) { job(id: $id) { id title company city status requiredSkills preferredSkills minYears } }".to_owned(),
                json!({"id": text("id")?}),
            ),
        };
        let (service, url) = match tool.target {
            Target::Search => ("search", &self.targets.search_url),
            Target::Resume => ("resume", &self.targets.resume_url),
            Target::Matching => ("matching", &self.targets.matching_url),
        };
        let client = ServiceClient::on_behalf_of(
            service,
            url.clone(),
            self.codec.clone(),
            self.principal.clone(),
        );
        match tokio::time::timeout(TOOL_TIMEOUT, client.query(&query, variables)).await {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "{service} did not answer within {} s",
                TOOL_TIMEOUT.as_secs()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use looma_auth::PrincipalKind;

    fn principal(permissions: &[&str]) -> Principal {
        Principal {
            subject: "u".into(),
            kind: PrincipalKind::User,
            email: None,
            roles: Vec::new(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn only_permitted_tools_are_offered() {
        let names = |p: &Principal| offered(p).into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert!(names(&principal(&[permission::CHAT_USE])).is_empty());
        assert_eq!(
            names(&principal(&[
                permission::CHAT_USE,
                permission::SEARCH_READ,
                permission::JOB_READ
            ])),
            ["search_jobs", "get_job"]
        );
        let recruiter = principal(&[
            permission::SEARCH_READ,
            permission::RESUME_READ,
            permission::JOB_READ,
            permission::MATCH_RUN,
        ]);
        assert_eq!(names(&recruiter).len(), TOOLS.len());
        for tool in offered(&recruiter) {
            assert_eq!(tool.parameters["type"], "object", "{}", tool.name);
        }
    }
}
