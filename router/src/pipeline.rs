//! One GraphQL request through the router, without HTTP: parse and validate against the API
//! schema, check operation limits, plan (cached), coerce variables, run introspection and the
//! plan, shape the response.

use crate::config::RouterConfig;
use crate::execute::shape::Shaper;
use crate::execute::{Execution, SubgraphTransport};
use crate::plan::{self, QueryPlan, operation};
use crate::supergraph::Supergraph;
use apollo_compiler::executable::{ExecutableDocument, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, ast, introspection};
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

/// A planned operation, cached by (text, operation name).
pub struct PreparedOperation {
    pub document: Valid<ExecutableDocument>,
    pub plan: QueryPlan,
    pub has_introspection: bool,
}

/// A supergraph with its derived, reusable state.
pub struct LoadedSupergraph {
    pub supergraph: Supergraph,
    implementers:
        apollo_compiler::collections::HashMap<Name, apollo_compiler::schema::Implementers>,
    plans: moka::sync::Cache<(String, Option<String>), Arc<PreparedOperation>>,
}

impl LoadedSupergraph {
    pub fn new(supergraph: Supergraph, plan_cache_size: u64) -> Self {
        LoadedSupergraph {
            implementers: supergraph.api_schema.implementers_map(),
            supergraph,
            plans: moka::sync::Cache::new(plan_cache_size),
        }
    }
}

pub fn request_error(code: &str, message: impl Into<String>) -> Value {
    json!({"errors": [{"message": message.into(), "extensions": {"code": code}}]})
}

fn diagnostics(errors: &apollo_compiler::validation::DiagnosticList, code: &str) -> Value {
    let list: Vec<Value> = errors
        .iter()
        .map(|d| {
            let mut error =
                serde_json::to_value(d.unstable_to_json_compat()).unwrap_or_else(|_| json!({}));
            error["extensions"] = json!({"code": code});
            error
        })
        .collect();
    json!({ "errors": list })
}

fn selection_depth(
    selection_set: &SelectionSet,
    document: &ExecutableDocument,
    seen: &mut Vec<Name>,
) -> usize {
    selection_set
        .selections
        .iter()
        .map(|selection| match selection {
            Selection::Field(field) => {
                if field.selection_set.selections.is_empty() {
                    1
                } else {
                    1 + selection_depth(&field.selection_set, document, seen)
                }
            }
            Selection::InlineFragment(fragment) => {
                selection_depth(&fragment.selection_set, document, seen)
            }
            Selection::FragmentSpread(spread) => {
                if seen.contains(&spread.fragment_name) {
                    return 0;
                }
                seen.push(spread.fragment_name.clone());
                let depth = document
                    .fragments
                    .get(&spread.fragment_name)
                    .map(|f| selection_depth(&f.selection_set, document, seen))
                    .unwrap_or(0);
                seen.pop();
                depth
            }
        })
        .max()
        .unwrap_or(0)
}

fn count_aliases(
    selection_set: &SelectionSet,
    document: &ExecutableDocument,
    budget: &mut usize,
) -> usize {
    if *budget == 0 {
        return 0;
    }
    *budget -= 1;
    selection_set
        .selections
        .iter()
        .map(|selection| match selection {
            Selection::Field(field) => {
                usize::from(field.alias.is_some())
                    + count_aliases(&field.selection_set, document, budget)
            }
            Selection::InlineFragment(fragment) => {
                count_aliases(&fragment.selection_set, document, budget)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.fragment_name)
                .map(|f| count_aliases(&f.selection_set, document, budget))
                .unwrap_or(0),
        })
        .sum()
}

/// Parses, validates, checks limits and plans an operation.
pub fn prepare(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    query: &str,
    operation_name: Option<&str>,
) -> Result<Arc<PreparedOperation>, Value> {
    let key = (query.to_owned(), operation_name.map(str::to_owned));
    if let Some(prepared) = loaded.plans.get(&key) {
        return Ok(prepared);
    }
    let api_schema = &loaded.supergraph.api_schema;
    let ast = ast::Document::parse(query, "operation.graphql")
        .map_err(|e| diagnostics(&e.errors, "GRAPHQL_PARSE_FAILED"))?;
    let document = ast
        .to_executable_validate(api_schema)
        .map_err(|e| diagnostics(&e.errors, "GRAPHQL_VALIDATION_FAILED"))?;
    let operation = document
        .operations
        .get(operation_name)
        .map_err(|e| request_error("GRAPHQL_VALIDATION_FAILED", e.message().to_string()))?;

    let depth = selection_depth(&operation.selection_set, &document, &mut Vec::new());
    if depth > config.max_depth {
        return Err(request_error(
            "OPERATION_LIMIT",
            format!(
                "the operation is {depth} levels deep; the limit is {}",
                config.max_depth
            ),
        ));
    }
    let aliases = count_aliases(&operation.selection_set, &document, &mut 100_000);
    if aliases > config.max_aliases {
        return Err(request_error(
            "OPERATION_LIMIT",
            format!(
                "the operation uses {aliases} aliases; the limit is {}",
                config.max_aliases
            ),
        ));
    }
    let root_fields = operation.root_fields(&document).count();
    if root_fields > config.max_root_fields {
        return Err(request_error(
            "OPERATION_LIMIT",
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
        return Err(request_error(
            "INTROSPECTION_DISABLED",
            "introspection is disabled on this router",
        ));
    }
    let normalized = operation::normalize(&document, operation);
    let plan = plan::plan_operation(&loaded.supergraph, normalized)
        .map_err(|e| request_error("QUERY_PLANNING_FAILED", e.to_string()))?;
    let prepared = Arc::new(PreparedOperation {
        document,
        plan,
        has_introspection,
    });
    loaded.plans.insert(key, prepared.clone());
    Ok(prepared)
}

/// Runs a request to completion and returns the response body.
pub async fn execute(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    transport: &dyn SubgraphTransport,
    request: &GraphqlRequest,
    headers: &http::HeaderMap,
) -> ResponseBody {
    match execute_inner(loaded, config, transport, request, headers).await {
        Ok(body) => body,
        Err(error) => ResponseBody::from_request_error(error),
    }
}

async fn execute_inner(
    loaded: &LoadedSupergraph,
    config: &RouterConfig,
    transport: &dyn SubgraphTransport,
    request: &GraphqlRequest,
    headers: &http::HeaderMap,
) -> Result<ResponseBody, Value> {
    let Some(query) = request.query.as_deref().filter(|q| !q.trim().is_empty()) else {
        return Err(request_error("BAD_USER_INPUT", "the request has no query"));
    };
    let prepared = match prepare(loaded, config, query, request.operation_name.as_deref()) {
        Ok(prepared) => prepared,
        Err(body) => return Err(body),
    };
    let Ok(operation) = prepared
        .document
        .operations
        .get(request.operation_name.as_deref())
    else {
        return Err(request_error(
            "GRAPHQL_VALIDATION_FAILED",
            "unknown operation",
        ));
    };
    let raw_variables = match &request.variables {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(_) => {
            return Err(request_error(
                "BAD_USER_INPUT",
                "`variables` must be an object",
            ));
        }
    };
    let Ok(json_map) = serde_json::from_value::<apollo_compiler::response::JsonMap>(raw_variables)
    else {
        return Err(request_error(
            "BAD_USER_INPUT",
            "`variables` could not be read",
        ));
    };
    let api_schema = &loaded.supergraph.api_schema;
    let coerced =
        match apollo_compiler::request::coerce_variable_values(api_schema, operation, &json_map) {
            Ok(coerced) => coerced,
            Err(error) => return Err(request_error("BAD_USER_INPUT", error.message().to_string())),
        };
    let variables: Map<String, Value> = serde_json::to_value(coerced.into_inner())
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();

    let mut introspection_data = Map::new();
    let mut errors: Vec<Value> = Vec::new();
    if prepared.has_introspection {
        let coerced = match apollo_compiler::request::coerce_variable_values(
            api_schema, operation, &json_map,
        ) {
            Ok(coerced) => coerced,
            Err(error) => return Err(request_error("BAD_USER_INPUT", error.message().to_string())),
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
                return Err(request_error(
                    "GRAPHQL_VALIDATION_FAILED",
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
    let fetched = execution.run(&prepared.plan, Map::new()).await;
    errors.extend(fetched.errors);
    let mut shaper = Shaper {
        supergraph: &loaded.supergraph,
        variables: &variables,
        introspection: &introspection_data,
        errors: &mut errors,
    };
    let data = shaper.shape(&prepared.plan.operation, &fetched.data);
    Ok(ResponseBody {
        errors,
        data: serde_json::value::RawValue::from_string(data).ok(),
    })
}

/// A GraphQL response: errors first (as the spec suggests), then `data` already rendered as
/// JSON text in request order. No `data` key at all for request errors.
#[derive(Debug, serde::Serialize)]
pub struct ResponseBody {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<serde_json::value::RawValue>>,
}

impl ResponseBody {
    /// A request error body (`{"errors": [...]}`, built by [`request_error`]).
    pub fn from_request_error(body: Value) -> ResponseBody {
        let errors = match body {
            Value::Object(mut map) => match map.remove("errors") {
                Some(Value::Array(errors)) => errors,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        ResponseBody { errors, data: None }
    }
}
