//! One GraphQL request through the router, without HTTP: parse and validate against the API
//! schema, check operation limits, plan (cached), coerce variables, run introspection and the
//! plan, shape the response.

use crate::config::RouterConfig;
use crate::error::RequestError;
use crate::execute::Execution;
use crate::execute::shape::Shaper;
use crate::execute::tree::Storage;
use crate::plan::{self, QueryPlan, operation};
use crate::supergraph::Supergraph;
use crate::transport::SubgraphTransport;
use apollo_compiler::executable::ExecutableDocument;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, ast, introspection};
use looma_core::ErrorCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The body of a GraphQL-over-HTTP request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default)]
    pub extensions: Option<Value>,
}

/// A planned operation, cached by (SHA-256 of the text, operation name).
pub struct PreparedOperation {
    pub document: Valid<ExecutableDocument>,
    pub plan: QueryPlan,
    pub has_introspection: bool,
    /// The schema coordinates it uses, for the registry's usage-aware checks.
    pub usage: Arc<crate::usage::OperationUsage>,
    /// What this entry costs the plan cache, in (estimated) bytes.
    weight: u32,
    /// How much arena the last execution's response tree used: the next one starts with
    /// that much in one piece instead of growing into it.
    arena_bytes: std::sync::atomic::AtomicUsize,
}

/// The largest arena an execution starts with (see [`PreparedOperation::note_storage`]).
const ARENA_HINT_LIMIT: usize = 1 << 20;

impl PreparedOperation {
    /// Storage for one execution's response tree, sized by what the previous execution used
    /// (and an eighth more, for answers that vary a little).
    fn storage(&self) -> Storage {
        let used = self.arena_bytes.load(std::sync::atomic::Ordering::Relaxed);
        Storage::with_capacity(used + used / 8)
    }

    /// Remembers how much arena this execution took (up to [`ARENA_HINT_LIMIT`]: beyond it
    /// the arena grows as it needs, and one large answer does not make every later
    /// execution of the operation start large).
    fn note_storage(&self, storage: &Storage) {
        self.arena_bytes.store(
            storage.arena_bytes().min(ARENA_HINT_LIMIT),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Query, mutation or subscription: decided on the parsed, selected operation.
    pub fn kind(&self) -> ast::OperationType {
        self.plan.operation.kind
    }
}

type PlanKey = ([u8; 32], Option<String>);

/// A supergraph with its derived, reusable state.
pub struct LoadedSupergraph {
    pub supergraph: Supergraph,
    implementers:
        apollo_compiler::collections::HashMap<Name, apollo_compiler::schema::Implementers>,
    plans: moka::sync::Cache<PlanKey, Arc<PreparedOperation>>,
}

impl LoadedSupergraph {
    /// `plan_cache_bytes` bounds the plan cache by the estimated memory of its entries (the
    /// document, its source text and the subgraph operations), not by their number.
    pub fn new(supergraph: Supergraph, plan_cache_bytes: u64) -> Self {
        LoadedSupergraph {
            implementers: supergraph.api_schema.implementers_map(),
            supergraph,
            plans: moka::sync::Cache::builder()
                .max_capacity(plan_cache_bytes)
                .weigher(|_key: &PlanKey, prepared: &Arc<PreparedOperation>| prepared.weight)
                .build(),
        }
    }

    /// Estimated bytes held by the plan cache (for tests and metrics).
    pub fn plan_cache_weight(&self) -> u64 {
        self.plans.run_pending_tasks();
        self.plans.weighted_size()
    }
}

/// What a parsed document costs in memory, per byte of its text: the source is kept for
/// diagnostics, and the AST and validated document hold a node per token.
const DOCUMENT_BYTES_PER_TEXT_BYTE: usize = 6;

fn plan_weight(query: &str, plan: &QueryPlan) -> u32 {
    let fetches: usize = plan.fetches.iter().map(|f| f.query.len() * 2 + 256).sum();
    let total = query.len() * DOCUMENT_BYTES_PER_TEXT_BYTE + fetches + 4096;
    u32::try_from(total).unwrap_or(u32::MAX)
}

fn plan_cache_metric(result: &'static str) {
    metrics::counter!(
        "looma_router_plan_cache_total",
        "component" => crate::http::COMPONENT,
        "result" => result
    )
    .increment(1);
}

/// SHA-256 of an operation text, as APQ clients send it (lower-case hex).
pub fn query_hash(query: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(query.as_bytes()).into()
}

/// Parses, checks limits, validates and plans an operation (cached).
pub fn prepare(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    query: &str,
    operation_name: Option<&str>,
) -> Result<Arc<PreparedOperation>, RequestError> {
    let key = (query_hash(query), operation_name.map(str::to_owned));
    if let Some(prepared) = loaded.plans.get(&key) {
        plan_cache_metric("hit");
        return Ok(prepared);
    }
    plan_cache_metric("miss");
    let api_schema = &loaded.supergraph.api_schema;
    let ast = ast::Document::parse(query, "operation.graphql")
        .map_err(|e| RequestError::from_diagnostics(ErrorCode::GraphqlParseFailed, &e.errors))?;
    // Before validation: field merging across fragments is where a fragment bomb would
    // otherwise spend its exponential time.
    let limits = crate::limits::DocumentLimits {
        max_depth: config.max_depth,
        max_aliases: config.max_aliases,
        max_expanded_selections: config.max_expanded_selections,
    };
    crate::limits::check_document(&ast, &limits)
        .map_err(|e| RequestError::new(ErrorCode::OperationLimit, e.to_string()))?;
    let document = ast.to_executable_validate(api_schema).map_err(|e| {
        RequestError::from_diagnostics(ErrorCode::GraphqlValidationFailed, &e.errors)
    })?;
    let operation = document.operations.get(operation_name).map_err(|e| {
        RequestError::new(ErrorCode::GraphqlValidationFailed, e.message().to_string())
    })?;

    let root_fields = operation.root_fields(&document).count();
    if root_fields > config.max_root_fields {
        return Err(RequestError::new(
            ErrorCode::OperationLimit,
            format!(
                "the operation selects {root_fields} root fields; the limit is {}",
                config.max_root_fields
            ),
        ));
    }
    let has_introspection = operation
        .root_fields(&document)
        .any(|f| f.name == "__schema" || f.name == "__type");
    if has_introspection && !config.introspection {
        return Err(RequestError::new(
            ErrorCode::IntrospectionDisabled,
            "introspection is disabled on this router",
        ));
    }
    let usage = Arc::new(crate::usage::operation_usage(
        api_schema, &document, operation, &key.0,
    ));
    let normalized = operation::normalize(&document, operation);
    let plan = plan::plan_operation(&loaded.supergraph, normalized)
        .map_err(|e| RequestError::new(ErrorCode::QueryPlanningFailed, e.to_string()))?;
    let prepared = Arc::new(PreparedOperation {
        weight: plan_weight(query, &plan),
        arena_bytes: Default::default(),
        document,
        plan,
        has_introspection,
        usage,
    });
    loaded.plans.insert(key, prepared.clone());
    // moka evicts over-weight entries in batched housekeeping; settle it now, so a burst of
    // large distinct operations cannot hold more than `plan_cache_bytes` while eviction lags.
    // Only misses get here, and they have just parsed, validated and planned.
    loaded.plans.run_pending_tasks();
    Ok(prepared)
}

/// Prepares the request's operation: its text must be present.
pub fn prepare_request(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    request: &GraphqlRequest,
) -> Result<Arc<PreparedOperation>, RequestError> {
    let Some(query) = request.query.as_deref().filter(|q| !q.trim().is_empty()) else {
        return Err(RequestError::new(
            ErrorCode::BadUserInput,
            "the request has no query",
        ));
    };
    prepare(loaded, config, query, request.operation_name.as_deref())
}

/// Runs a request to completion and returns the response body.
pub async fn execute(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    transport: &dyn SubgraphTransport,
    request: &GraphqlRequest,
    headers: &http::HeaderMap,
) -> ResponseBody {
    match prepare_request(loaded, config, request) {
        Ok(prepared) => execute_prepared(loaded, transport, request, &prepared, headers).await,
        Err(error) => ResponseBody::from_request_error(error),
    }
}

/// Runs an operation already prepared for `request`.
pub async fn execute_prepared(
    loaded: &LoadedSupergraph,
    transport: &dyn SubgraphTransport,
    request: &GraphqlRequest,
    prepared: &PreparedOperation,
    headers: &http::HeaderMap,
) -> ResponseBody {
    match execute_inner(loaded, transport, request, prepared, headers).await {
        Ok(body) => body,
        Err(error) => ResponseBody::from_request_error(error),
    }
}

/// The request's variables coerced for the operation (`Err` when they do not fit it), and
/// the raw values as apollo-compiler reads them (introspection runs on those).
fn coerce_variables(
    loaded: &LoadedSupergraph,
    request: &GraphqlRequest,
    prepared: &PreparedOperation,
) -> Result<(Map<String, Value>, apollo_compiler::response::JsonMap), RequestError> {
    let Ok(operation) = prepared
        .document
        .operations
        .get(request.operation_name.as_deref())
    else {
        return Err(RequestError::new(
            ErrorCode::GraphqlValidationFailed,
            "unknown operation",
        ));
    };
    let raw_variables = match &request.variables {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(_) => {
            return Err(RequestError::new(
                ErrorCode::BadUserInput,
                "`variables` must be an object",
            ));
        }
    };
    let Ok(json_map) = serde_json::from_value::<apollo_compiler::response::JsonMap>(raw_variables)
    else {
        return Err(RequestError::new(
            ErrorCode::BadUserInput,
            "`variables` could not be read",
        ));
    };
    let api_schema = &loaded.supergraph.api_schema;
    let coerced =
        match apollo_compiler::request::coerce_variable_values(api_schema, operation, &json_map) {
            Ok(coerced) => coerced,
            Err(error) => {
                return Err(RequestError::new(
                    ErrorCode::BadUserInput,
                    error.message().to_string(),
                ));
            }
        };
    let variables: Map<String, Value> = serde_json::to_value(coerced.into_inner())
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    Ok((variables, json_map))
}

/// The coerced variables of a prepared subscription, checked before its source is opened.
pub fn subscription_variables(
    loaded: &LoadedSupergraph,
    request: &GraphqlRequest,
    prepared: &PreparedOperation,
) -> Result<Map<String, Value>, RequestError> {
    coerce_variables(loaded, request, prepared).map(|(variables, _)| variables)
}

/// One subscription event through the rest of the plan (entity fetches for fields of other
/// subgraphs) and shaped like a query response. `event` is the source subgraph's `next`
/// payload.
pub async fn execute_event(
    loaded: &LoadedSupergraph,
    transport: &dyn SubgraphTransport,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
    headers: &http::HeaderMap,
    event: Value,
) -> ResponseBody {
    let execution = Execution {
        supergraph: &loaded.supergraph,
        transport,
        variables,
        headers,
    };
    let storage = prepared.storage();
    let fetched = execution.run_event(&prepared.plan, &event, &storage).await;
    let body = shape_response(loaded, prepared, variables, &Map::new(), fetched);
    prepared.note_storage(&storage);
    body
}

fn shape_response(
    loaded: &LoadedSupergraph,
    prepared: &PreparedOperation,
    variables: &Map<String, Value>,
    introspection: &Map<String, Value>,
    fetched: crate::execute::FetchedData<'_>,
) -> ResponseBody {
    let mut errors = fetched.errors;
    let merged = typed_arena::Arena::new();
    let mut shaper = Shaper::new(
        &loaded.supergraph,
        variables,
        introspection,
        &mut errors,
        &merged,
    );
    // The client's response is about as long as what the subgraphs answered.
    let mut out = Vec::with_capacity(fetched.received_bytes.max(4096));
    out.extend_from_slice(DATA_PREFIX);
    shaper.shape(&prepared.plan.operation, &fetched.data, &mut out);
    ResponseBody {
        errors,
        data: Some(out),
        operation_name: prepared
            .plan
            .operation
            .name
            .as_ref()
            .map(|name| name.to_string()),
        retry_after: None,
    }
}

async fn execute_inner(
    loaded: &LoadedSupergraph,
    transport: &dyn SubgraphTransport,
    request: &GraphqlRequest,
    prepared: &PreparedOperation,
    headers: &http::HeaderMap,
) -> Result<ResponseBody, RequestError> {
    if prepared.kind() == ast::OperationType::Subscription {
        return Err(RequestError::new(
            ErrorCode::BadRequest,
            "a subscription streams events: open it through the router's streaming transports",
        ));
    }
    let (variables, json_map) = coerce_variables(loaded, request, prepared)?;
    let Ok(operation) = prepared
        .document
        .operations
        .get(request.operation_name.as_deref())
    else {
        return Err(RequestError::new(
            ErrorCode::GraphqlValidationFailed,
            "unknown operation",
        ));
    };
    let api_schema = &loaded.supergraph.api_schema;
    let mut introspection_data = Map::new();
    let mut errors: Vec<Value> = Vec::new();
    if prepared.has_introspection {
        let coerced = match apollo_compiler::request::coerce_variable_values(
            api_schema, operation, &json_map,
        ) {
            Ok(coerced) => coerced,
            Err(error) => {
                return Err(RequestError::new(
                    ErrorCode::BadUserInput,
                    error.message().to_string(),
                ));
            }
        };
        match introspection::partial_execute(
            api_schema,
            &loaded.implementers,
            &prepared.document,
            operation,
            &coerced,
        ) {
            Ok(response) => {
                if let Some(data) = response.data
                    && let Ok(Value::Object(map)) = serde_json::to_value(data)
                {
                    introspection_data = map;
                }
                for error in response.errors {
                    if let Ok(value) = serde_json::to_value(error) {
                        errors.push(value);
                    }
                }
            }
            Err(error) => {
                return Err(RequestError::new(
                    ErrorCode::GraphqlValidationFailed,
                    error.message().to_string(),
                ));
            }
        }
    }

    let execution = Execution {
        supergraph: &loaded.supergraph,
        transport,
        variables: &variables,
        headers,
    };
    let storage = prepared.storage();
    let mut fetched = execution.run(&prepared.plan, &storage).await;
    errors.append(&mut fetched.errors);
    fetched.errors = errors;
    let body = shape_response(loaded, prepared, &variables, &introspection_data, fetched);
    prepared.note_storage(&storage);
    Ok(body)
}

/// What the shaper's buffer starts with: a response without errors is that buffer closed
/// with `}`, sent without a copy.
const DATA_PREFIX: &[u8] = b"{\"data\":";

/// A GraphQL response: errors first (as the spec suggests), then `data` already rendered as
/// JSON text in request order. No `data` key at all for request errors.
#[derive(Debug)]
pub struct ResponseBody {
    pub errors: Vec<Value>,
    /// [`DATA_PREFIX`], then the `data` member as JSON text, written by the shaper (valid JSON
    /// by construction, so it is sent as it is, never parsed again).
    data: Option<Vec<u8>>,
    /// The executed operation's name (from the document when the client sent none), for
    /// metrics and logs; never sent.
    pub operation_name: Option<String>,
    /// `Retry-After` seconds, when the request was refused for its rate.
    pub retry_after: Option<u64>,
}

impl ResponseBody {
    /// The `data` member as JSON text, when there is one.
    pub fn data_json(&self) -> Option<&[u8]> {
        self.data.as_deref().map(|data| &data[DATA_PREFIX.len()..])
    }

    /// The response as sent: `{"errors":[…],"data":…}`, each member only when present.
    pub fn into_bytes(mut self) -> Vec<u8> {
        if self.errors.is_empty()
            && let Some(mut data) = self.data.take()
        {
            data.push(b'}');
            return data;
        }
        let data = self.data_json();
        let mut out = Vec::with_capacity(data.map_or(0, <[u8]>::len) + 256);
        out.push(b'{');
        if !self.errors.is_empty() {
            out.extend_from_slice(b"\"errors\":");
            // A vector of JSON values always serializes.
            let _ = serde_json::to_writer(&mut out, &self.errors);
        }
        if let Some(data) = data {
            if !self.errors.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"data\":");
            out.extend_from_slice(data);
        }
        out.push(b'}');
        out
    }

    /// The response as a JSON value (the streaming transports carry values).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        if !self.errors.is_empty() {
            object.insert("errors".into(), Value::Array(self.errors.clone()));
        }
        if let Some(data) = self.data_json() {
            object.insert(
                "data".into(),
                serde_json::from_slice(data).unwrap_or(Value::Null),
            );
        }
        Value::Object(object)
    }

    /// The body for a request error: its errors, no `data`.
    pub fn from_request_error(error: RequestError) -> ResponseBody {
        ResponseBody {
            errors: error.errors(),
            data: None,
            operation_name: None,
            retry_after: error.retry_after,
        }
    }
}
