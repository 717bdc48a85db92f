//! Identity against an attacker: password guesses sent in parallel, guesses while the shared
//! cache is down, and credentials that must stop working everywhere (router, subgraphs called
//! directly, identity) within seconds of being revoked, not when they expire.

use crate::harness::{Auth, TestPlatform, data, error_code, error_reason, with_auth};
use looma_cache::UnreachableCache;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

crate::on_each_backend!(
    parallel_wrong_passwords_are_checked_at_most_the_limit,
    an_unreachable_cache_still_limits_guesses,
);

const PASSWORD: &str = "Sturdy-Passw0rd-42";
const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// POSTs a login to the identity at `identity_url` and returns the JSON body.
async fn login_at(
    http: &reqwest::Client,
    identity_url: &str,
    email: &str,
    password: &str,
) -> Value {
    http.post(format!("{identity_url}/graphql"))
        .json(&json!({"query": LOGIN, "variables": {"e": email, "p": password}}))
        .send()
        .await
        .expect("identity answers")
        .json()
        .await
        .expect("JSON body")
}

/// Sends `count` wrong-password logins for `email` at once; returns how many were checked
/// (answered `INVALID_CREDENTIALS`) and how many refused unchecked (`RATE_LIMITED`).
async fn guess_in_parallel(
    http: &reqwest::Client,
    identity_url: &str,
    email: &str,
    count: usize,
) -> (usize, usize) {
    let guesses: Vec<_> = (0..count)
        .map(|i| {
            let http = http.clone();
            let url = identity_url.to_owned();
            let email = email.to_owned();
            tokio::spawn(async move {
                login_at(&http, &url, &email, &format!("Guess-{i}-Passw0rd")).await
            })
        })
        .collect();
    let (mut checked, mut limited) = (0, 0);
    for guess in guesses {
        let body = guess.await.expect("guess task");
        match error_code(&body) {
            "UNAUTHENTICATED" => {
                assert_eq!(error_reason(&body), "INVALID_CREDENTIALS", "{body}");
                checked += 1;
            }
            "RATE_LIMITED" => limited += 1,
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    (checked, limited)
}

/// The atomic reservation: of 40 simultaneous guesses exactly the budget is checked (a
/// successful login, here the one `user_with_roles` made, had reset it); afterwards even the
/// right password is refused unchecked until the window passes (the window itself is covered
/// by identity's unit tests, with a one-second window).
async fn parallel_wrong_passwords_are_checked_at_most_the_limit(p: TestPlatform) -> TestPlatform {
    let max = p.config.identity.login_max_failures as usize;
    p.user_with_roles("target@looma.test", &["viewer"]).await;

    let started = Instant::now();
    let (checked, limited) =
        guess_in_parallel(&p.http, &p.identity_url, "target@looma.test", 40).await;
    eprintln!(
        "40 parallel guesses: {checked} checked, {limited} rate limited in {:?}",
        started.elapsed()
    );
    assert!(
        checked <= max,
        "{checked} guesses were checked; the limit is {max}"
    );
    assert_eq!(checked, max, "the budget itself is usable");
    assert_eq!(limited, 40 - max);

    let right = p.login("target@looma.test", PASSWORD).await;
    assert_eq!(error_code(&right), "RATE_LIMITED", "{right}");
    assert_eq!(error_reason(&right), "TOO_MANY_ATTEMPTS");

    let other = p.login("bystander@looma.test", "Whatever-Passw0rd-1").await;
    assert_eq!(error_reason(&other), "INVALID_CREDENTIALS", "per account");
    p
}

/// Identity serving over HTTP on this test's database with its cache down: guesses are still
/// limited (by the in-process fallback counter), sequential and parallel alike, and the right
/// password is refused once the budget is spent.
async fn an_unreachable_cache_still_limits_guesses(p: TestPlatform) -> TestPlatform {
    let max = p.config.identity.login_max_failures as usize;
    p.user_with_roles("cacheless@looma.test", &["viewer"]).await;
    p.user_with_roles("cacheless-2@looma.test", &["viewer"])
        .await;
    let service = looma_identity::IdentityService::start(
        looma_identity::store::IdentityStore::new(p.db().clone()),
        Arc::new(UnreachableCache),
        p.config.identity.clone(),
    )
    .await
    .expect("identity starts without its cache");
    let listener = looma_server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(looma_server::serve(
        listener,
        looma_identity::router(service, None),
        async {
            let _ = stopped.await;
        },
    ));

    let ready: Value = p
        .http
        .get(format!("{url}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["status"], "unavailable",
        "readiness reports the cache: {ready}"
    );

    let mut checked = 0;
    for _ in 0..15 {
        let body = login_at(&p.http, &url, "cacheless@looma.test", "Wrong-Passw0rd-1").await;
        if error_code(&body) == "UNAUTHENTICATED" {
            checked += 1;
        } else {
            assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
        }
    }
    assert_eq!(checked, max, "15 sequential guesses, {checked} checked");
    let right = login_at(&p.http, &url, "cacheless@looma.test", PASSWORD).await;
    assert_eq!(error_code(&right), "RATE_LIMITED", "{right}");

    let (checked, limited) = guess_in_parallel(&p.http, &url, "cacheless-2@looma.test", 40).await;
    eprintln!("cache down, 40 parallel guesses: {checked} checked, {limited} rate limited");
    assert_eq!(checked, max);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    p
}

/// Revocation reaches every verifier: the router (which checks credentials at the edge), the
/// search subgraph called directly (its own `RemoteVerifier`), and identity itself.
mod revocation {
    use super::*;
    use looma::Component;

    crate::on_each_backend_with!(&[looma::Component::Search];
        a_disabled_users_token_is_refused_everywhere_within_seconds,
        a_revoked_api_key_is_refused_everywhere_within_seconds,
    );

    /// The bound the issue asks for; polling makes the real figure one to two seconds.
    const DEADLINE: Duration = Duration::from_secs(5);
    const SEARCH: &str = "{ searchBackends { text } }";

    async fn at_search(p: &TestPlatform, auth: &Auth) -> Value {
        let request = p
            .http
            .post(format!("{}/graphql", p.url(Component::Search)))
            .json(&json!({"query": SEARCH}));
        with_auth(request, auth)
            .send()
            .await
            .expect("search answers")
            .json()
            .await
            .expect("JSON body")
    }

    async fn at_router(p: &TestPlatform, auth: &Auth) -> Value {
        p.gql_router(auth, SEARCH, json!({})).await
    }

    fn works(body: &Value) -> bool {
        body.get("errors").is_none() && body["data"]["searchBackends"]["text"].is_string()
    }

    /// Asks the router and search until both refuse `auth` with `reason`; how long it took.
    async fn until_refused_everywhere(p: &TestPlatform, auth: &Auth, reason: &str) -> Duration {
        let started = Instant::now();
        loop {
            let (router, search) = (at_router(p, auth).await, at_search(p, auth).await);
            let refused = |body: &Value| {
                body.get("errors").is_some()
                    && error_code(body) == "UNAUTHENTICATED"
                    && error_reason(body) == reason
            };
            if refused(&router) && refused(&search) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < DEADLINE,
                "still accepted after {DEADLINE:?}: router {router}, search {search}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn until_accepted_everywhere(p: &TestPlatform, auth: &Auth) -> Duration {
        let started = Instant::now();
        loop {
            let (router, search) = (at_router(p, auth).await, at_search(p, auth).await);
            if works(&router) && works(&search) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < DEADLINE,
                "still refused after {DEADLINE:?}: router {router}, search {search}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn set_status(p: &TestPlatform, admin: &Auth, id: &str, status: &str) {
        let body = p
            .gql(
                admin,
                "mutation($id: ID!, $s: UserStatus!) { setUserStatus(id: $id, status: $s) { status } }",
                json!({"id": id, "s": status}),
            )
            .await;
        assert_eq!(data(&body)["setUserStatus"]["status"], status);
    }

    async fn a_disabled_users_token_is_refused_everywhere_within_seconds(
        p: TestPlatform,
    ) -> TestPlatform {
        let admin = p.admin().await;
        let (id, token) = p.user_with_roles("mallory@looma.test", &["viewer"]).await;
        assert!(works(&at_router(&p, &token).await), "works before");
        assert!(works(&at_search(&p, &token).await), "works before");

        set_status(&p, &admin, &id, "DISABLED").await;
        let at_identity = p.gql(&token, "{ caller { subject } }", json!({})).await;
        assert_eq!(
            error_reason(&at_identity),
            "TOKEN_REVOKED",
            "identity refuses at once"
        );
        let took = until_refused_everywhere(&p, &token, "TOKEN_REVOKED").await;
        eprintln!("disabled user's token refused at router and search after {took:?}");

        let published = p
            .http
            .get(format!("{}/revocations", p.identity_url))
            .send()
            .await
            .unwrap();
        let etag = published.headers()["etag"].clone();
        let list: Value = published.json().await.unwrap();
        assert_eq!(list["users"].as_array().map(Vec::len), Some(1), "{list}");
        assert!(
            !list.to_string().contains(&id),
            "ids are published as digests"
        );
        let unchanged = p
            .http
            .get(format!("{}/revocations", p.identity_url))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(
            unchanged.status(),
            304,
            "pollers holding the version get no body"
        );

        set_status(&p, &admin, &id, "ACTIVE").await;
        let login = p.login("mallory@looma.test", PASSWORD).await;
        let fresh = Auth::Bearer(
            data(&login)["login"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let took = until_accepted_everywhere(&p, &fresh).await;
        eprintln!("re-enabled user's new token accepted everywhere after {took:?}");
        assert_eq!(
            error_reason(&at_router(&p, &token).await),
            "TOKEN_REVOKED",
            "the token from before stays refused"
        );
        assert_eq!(error_reason(&at_search(&p, &token).await), "TOKEN_REVOKED");
        p
    }

    async fn a_revoked_api_key_is_refused_everywhere_within_seconds(
        p: TestPlatform,
    ) -> TestPlatform {
        let admin = p.admin().await;
        let created = p
            .gql(
                &admin,
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }",
                json!({"input": {"name": "leaked", "permissions": ["search:read"]}}),
            )
            .await;
        let created = &data(&created)["createApiKey"];
        let key = Auth::ApiKey(created["secret"].as_str().unwrap().to_owned());
        let id = created["apiKey"]["id"].as_str().unwrap().to_owned();
        // Both verifiers now hold the key in their 30-second caches.
        assert!(works(&at_router(&p, &key).await), "works before");
        assert!(works(&at_search(&p, &key).await), "works before");

        let revoked = p
            .gql(
                &admin,
                "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
                json!({"id": id}),
            )
            .await;
        assert!(data(&revoked)["revokeApiKey"]["revokedAt"].is_string());
        let took = until_refused_everywhere(&p, &key, "API_KEY_INVALID").await;
        eprintln!("revoked API key refused at router and search after {took:?}");
        p
    }
}
