//! What every subgraph schema shares: federation, the operation limits, and error codes
//! tagged by the stage that raised them.
//!
//! async-graphql reports parse failures, validation failures and limit breaches as bare
//! `ServerError`s (a message, no kind). [`ErrorStages`] hooks the parse and validation stages,
//! so an error is coded where it arises instead of by its English text: whatever the parse
//! stage refuses is `GRAPHQL_PARSE_FAILED` (or `OPERATION_LIMIT` when the text parses but is
//! nested too deeply), whatever validation refuses is `GRAPHQL_VALIDATION_FAILED` (but wrong
//! argument values, literal or in variables: `BAD_USER_INPUT`, told apart by the one rule's
//! message prefix), and the depth and complexity limits are checked here on the validation
//! result (`OPERATION_LIMIT`) rather than by the engine. Errors raised while executing without
//! a code are still classified by `looma_core::error::ensure_error_codes`.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, ObjectType, SchemaBuilder, ServerError, ServerResult, SubscriptionType,
    ValidationResult, Variables,
};
use looma_core::ErrorCode;
use std::sync::Arc;

/// Deepest selection a subgraph operation may have.
pub const MAX_DEPTH: usize = 16;
/// Highest complexity (async-graphql's count: one per field unless a field says otherwise).
pub const MAX_COMPLEXITY: usize = 5_000;

/// A subgraph's schema builder: federation on (its SDL includes the Subscription type, if
/// any, for the router to compose), [`ErrorStages`] installed.
pub fn subgraph_schema<Query, Mutation, Subscription>(
    query: Query,
    mutation: Mutation,
    subscription: Subscription,
) -> SchemaBuilder<Query, Mutation, Subscription>
where
    Query: ObjectType + 'static,
    Mutation: ObjectType + 'static,
    Subscription: SubscriptionType + 'static,
{
    async_graphql::Schema::build(query, mutation, subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(ErrorStages {
            max_depth: MAX_DEPTH,
            max_complexity: MAX_COMPLEXITY,
        })
}

/// Codes parse and validation errors by stage and enforces the operation limits.
#[derive(Clone, Copy, Debug)]
pub struct ErrorStages {
    pub max_depth: usize,
    pub max_complexity: usize,
}

impl ExtensionFactory for ErrorStages {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

fn tagged(mut error: ServerError, code: ErrorCode) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
    error
}

#[async_trait::async_trait]
impl Extension for ErrorStages {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|error| {
            // The stage also refuses texts that parse but nest too deeply for the engine's
            // recursion limit; parsing again (only on this error path) tells them apart.
            let code = if async_graphql::parser::parse_query(query).is_ok() {
                ErrorCode::OperationLimit
            } else {
                ErrorCode::GraphqlParseFailed
            };
            tagged(error, code)
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| {
                    // One rule checks argument values, literal or from variables: that is the
                    // caller's data being wrong (`BAD_USER_INPUT`, as Apollo answers a bad
                    // variable), not the operation. The engine names the rule only in its text.
                    let code = if error.message.starts_with("Invalid value for argument") {
                        ErrorCode::BadUserInput
                    } else {
                        ErrorCode::GraphqlValidationFailed
                    };
                    tagged(error, code)
                })
                .collect::<Vec<_>>()
        })?;
        let limit = |message: String| {
            vec![
                async_graphql::Error::new(message)
                    .extend_with(|_, ext| ext.set("code", ErrorCode::OperationLimit.as_str()))
                    .into_server_error(async_graphql::Pos::default()),
            ]
        };
        if result.depth > self.max_depth {
            return Err(limit(format!(
                "the operation is nested {} levels deep; the limit is {}",
                result.depth, self.max_depth
            )));
        }
        if result.complexity > self.max_complexity {
            return Err(limit(format!(
                "the operation's complexity is {}; the limit is {}",
                result.complexity, self.max_complexity
            )));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object};

    struct Query;

    #[Object]
    impl Query {
        async fn value(&self, n: i32) -> i32 {
            n
        }
        async fn nested(&self) -> Query {
            Query
        }
    }

    async fn code_of(query: &str) -> String {
        let schema = subgraph_schema(Query, EmptyMutation, EmptySubscription).finish();
        let mut response = schema.execute(query).await;
        looma_core::error::ensure_error_codes(&mut response.errors);
        let error = response.errors.first().expect("an error");
        match error.extensions.as_ref().and_then(|ext| ext.get("code")) {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => panic!("no code on {error:?}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_stage_codes_its_errors() {
        assert_eq!(code_of("{ value(n: 1").await, "GRAPHQL_PARSE_FAILED");
        assert_eq!(code_of("{ nope }").await, "GRAPHQL_VALIDATION_FAILED");
        assert_eq!(code_of("{ value }").await, "GRAPHQL_VALIDATION_FAILED");
        let deep = format!(
            "{{ {} value(n: 1) {} }}",
            "nested {".repeat(20),
            "}".repeat(20)
        );
        assert_eq!(code_of(&deep).await, "OPERATION_LIMIT");
        let wide: String = (0..5_001)
            .map(|i| format!("a{i}: value(n: {i}) "))
            .collect();
        assert_eq!(code_of(&format!("{{ {wide} }}")).await, "OPERATION_LIMIT");
        // Deeper than the parser's own recursion limit: refused while parsing, but a limit.
        let very_deep = format!(
            "{{ {} value(n: 1) {} }}",
            "nested {".repeat(40),
            "}".repeat(40)
        );
        assert_eq!(code_of(&very_deep).await, "OPERATION_LIMIT");
        // Wrong argument values, literal or in variables, are the caller's data.
        assert_eq!(code_of("{ value(n: \"x\") }").await, "BAD_USER_INPUT");
    }

    #[tokio::test]
    async fn limits_admit_what_fits() {
        let schema = subgraph_schema(Query, EmptyMutation, EmptySubscription).finish();
        let fits = format!(
            "{{ {} value(n: 1) {} }}",
            "nested {".repeat(14),
            "}".repeat(14)
        );
        let response = schema.execute(fits).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
}
