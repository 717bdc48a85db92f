//! What the assistant may do for the user who asks: search candidates or jobs, match
//! candidates to a job, read a resume's summary, look up a job. Each tool names the
//! permissions it needs; a tool the user may not use is never offered, and every call runs as
//! that user, so every subgraph it reaches applies the user's own permissions — contact
//! details stay masked without `resume:pii`.
//!
//! The calls go through the router, as any client's do: chat presents a delegation for the
//! user (`x-looma-delegation`, signed with the router secret), the one principal the router's
//! edge accepts from a caller. So the router's planning, limits, rate limits and caches apply,
//! and a tool's operation can join across subgraphs (a search hit's candidate profile comes
//! from resume, a match's from matching and resume).

use looma_auth::{ForwardedPrincipalCodec, Principal, permission};
use looma_llm::{ToolCall, ToolSpec};
use looma_server::ServiceClient;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one tool call may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
/// Most results a search or match tool returns to the model.
const MAX_RESULTS: u64 = 10;
/// The component named in the delegation (the router's logs and limits see who acts).
const ACTOR: &str = "chat";

struct Tool {
    name: &'static str,
    description: &'static str,
    parameters: fn() -> Value,
    permissions: &'static [&'static str],
    /// The operation sent to the router; named, so the router's metrics count tool calls.
    operation: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "search_candidates",
        description: "Find candidates whose resumes match a query (skills, titles, cities; Chinese or English). Returns resume ids, titles and snippets.",
        parameters: || query_schema("What to look for in resumes"),
        permissions: &[permission::SEARCH_READ, permission::RESUME_READ],
        operation: "query ChatToolSearchCandidates($query: String!, $limit: Int!) { hybridSearch(query: $query, topK: $limit, collection: RESUMES) { id title snippet score resume { id skills profile { name headline totalYears city } } } }",
    },
    Tool {
        name: "search_jobs",
        description: "Find job postings matching a query. Returns job ids, titles and snippets.",
        parameters: || query_schema("What to look for in job postings"),
        permissions: &[permission::SEARCH_READ, permission::JOB_READ],
        operation: "query ChatToolSearchJobs($query: String!, $limit: Int!) { hybridSearch(query: $query, topK: $limit, collection: JOBS) { id title snippet score job { id title company city status } } }",
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
        operation: "query ChatToolMatchCandidates($job_id: ID!, $limit: Int!) { matchCandidates(jobId: $job_id, limit: $limit) { matches { score resume { id profile { name headline totalYears } } explanation { matchedSkills missingSkills } } } }",
    },
    Tool {
        name: "resume_summary",
        description: "Read a candidate's profile summary: headline, years of experience, degree, city, skills.",
        parameters: || id_schema("The resume's id"),
        permissions: &[permission::RESUME_READ],
        operation: "query ChatToolResumeSummary($id: ID!) { resume(id: $id) { id status skills profile { name headline totalYears highestDegree city summary } } }",
    },
    Tool {
        name: "get_job",
        description: "Look up a job posting: title, company, city, status, required skills.",
        parameters: || id_schema("The job's id"),
        permissions: &[permission::JOB_READ],
        operation: "query ChatToolGetJob($id: ID!) { job(id: $id) { id title company city status requiredSkills preferredSkills minYears } }",
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
    router: ServiceClient,
    principal: Principal,
}

impl ToolRunner {
    /// Calls the router at `router_url` as `principal`.
    pub fn new(router_url: String, codec: ForwardedPrincipalCodec, principal: Principal) -> Self {
        ToolRunner {
            router: ServiceClient::delegated(router_url, codec, principal.clone(), ACTOR),
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
        let variables = variables(tool, &call.arguments)?;
        match tokio::time::timeout(TOOL_TIMEOUT, self.router.query(tool.operation, variables)).await
        {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "the router did not answer within {} s",
                TOOL_TIMEOUT.as_secs()
            )),
        }
    }
}

/// The operation's variables from the model's arguments (a JSON object): strings trimmed,
/// non-empty and at most 500 characters, `limit` clamped to 1..=[`MAX_RESULTS`] (5 when absent).
fn variables(tool: &Tool, arguments: &str) -> Result<Value, String> {
    let arguments: Value = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(arguments)
            .map_err(|e| format!("the arguments are not a JSON object: {e}"))?
    };
    let text = |key: &str| -> Result<String, String> {
        arguments[key]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().count() <= 500)
            .map(str::to_owned)
            .ok_or_else(|| format!("`{key}` must be a non-empty string of at most 500 characters"))
    };
    let limit = arguments["limit"]
        .as_u64()
        .unwrap_or(5)
        .clamp(1, MAX_RESULTS);
    Ok(match tool.name {
        "search_candidates" | "search_jobs" => json!({"query": text("query")?, "limit": limit}),
        "match_candidates" => json!({"job_id": text("job_id")?, "limit": limit}),
        _ => json!({"id": text("id")?}),
    })
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
        for tool in TOOLS {
            assert!(
                tool.operation.starts_with("query ChatTool"),
                "{}: a named query",
                tool.name
            );
        }
        for tool in offered(&recruiter) {
            assert_eq!(tool.parameters["type"], "object", "{}", tool.name);
        }
    }

    #[test]
    fn arguments_become_checked_variables() {
        let tool = |name: &str| TOOLS.iter().find(|t| t.name == name).unwrap();
        assert_eq!(
            variables(tool("search_jobs"), r#"{"query": "  rust  ", "limit": 99}"#),
            Ok(json!({"query": "rust", "limit": MAX_RESULTS}))
        );
        assert_eq!(
            variables(tool("match_candidates"), r#"{"job_id": "j1"}"#),
            Ok(json!({"job_id": "j1", "limit": 5}))
        );
        assert!(variables(tool("get_job"), "").is_err(), "id is required");
        assert!(variables(tool("get_job"), r#"{"id": "   "}"#).is_err());
        assert!(variables(tool("resume_summary"), "not json").is_err());
        let long = "x".repeat(501);
        assert!(
            variables(
                tool("search_candidates"),
                &json!({"query": long}).to_string()
            )
            .is_err()
        );
    }
}
