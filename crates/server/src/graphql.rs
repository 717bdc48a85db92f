use async_graphql::{ObjectType, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, rejection::GraphQLRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use looma_auth::Authenticator;
use looma_core::ErrorCode;
use looma_core::error::{coded_error, ensure_error_codes, to_graphql_error};

/// Authenticates the caller, attaches it (and whatever `attach` adds, such as per-request
/// DataLoaders) to the request, executes it, and gives every error a code.
///
/// Credentials that are present but invalid fail the whole request with `UNAUTHENTICATED`
/// before any resolver runs.
pub async fn execute_graphql<Q, M, S>(
    schema: &Schema<Q, M, S>,
    authenticator: &Authenticator,
    headers: &HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
    attach: impl FnOnce(async_graphql::Request) -> async_graphql::Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => return rejection_response(rejection),
    };
    let caller = match authenticator.authenticate(headers).await {
        Ok(caller) => caller,
        Err(error) => {
            let response =
                async_graphql::Response::from_errors(vec![request_error(to_graphql_error(&error))]);
            return GraphQLResponse::from(response).into_response();
        }
    };
    let mut response = schema.execute(attach(request.data(caller))).await;
    ensure_error_codes(&mut response.errors);
    GraphQLResponse::from(response).into_response()
}

fn rejection_response(rejection: GraphQLRejection) -> Response {
    let message = format!("the request is not a GraphQL request: {}", rejection.0);
    graphql_error_response(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadUserInput,
        "INVALID_REQUEST",
        &message,
    )
}

/// A GraphQL-shaped error body (`{"errors": [...]}`) for failures outside execution.
pub fn graphql_error_response(
    status: StatusCode,
    code: ErrorCode,
    reason: &str,
    message: &str,
) -> Response {
    let error = coded_error(code, Some(reason), message);
    let response = async_graphql::Response::from_errors(vec![request_error(error)]);
    let mut http = GraphQLResponse::from(response).into_response();
    *http.status_mut() = status;
    http
}

/// An error about the request as a whole: no source location, no path.
fn request_error(error: async_graphql::Error) -> async_graphql::ServerError {
    let mut server_error = error.into_server_error(async_graphql::Pos::default());
    server_error.locations.clear();
    server_error
}
