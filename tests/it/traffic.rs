//! Router traffic management on the real platform: rate limits counted in Redis hold across
//! two router instances that share nothing else, per client and per operation class, with
//! `429 RATE_LIMITED` and `Retry-After`.

use crate::harness::{Backend, TestPlatform, data, error_code, with_auth};
use looma::{Component, Platform};
use serde_json::{Value, json};

#[tokio::test]
async fn rate_limits_hold_across_two_routers_sharing_redis() {
    let Some(p) =
        TestPlatform::start_configured(Backend::PostgresRedis, &[Component::Search], |c| {
            c.router.rate_limit.enabled = true;
            // A long window, so the test never straddles two of them.
            c.router.rate_limit.window_ms = 3_600_000;
            c.router.rate_limit.queries = 5;
            c.router.rate_limit.mutations = 1;
        })
        .await
    else {
        return;
    };
    let second = Platform::start(&p.config, &[Component::Router], true)
        .await
        .expect("a second router starts");
    let routers = [
        p.router_url.clone().unwrap(),
        format!("http://{}", second.addr(Component::Router).unwrap()),
    ];
    let admin = p.admin().await;
    let mut answers = Vec::new();
    for i in 0..8 {
        let url = &routers[i % 2];
        let response = with_auth(
            p.http
                .post(format!("{url}/graphql"))
                .json(&json!({"query": "{ textSearch(query: \"java\") { total } }"})),
            &admin,
        )
        .send()
        .await
        .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body: Value = response.json().await.unwrap();
        answers.push((status, retry_after, body));
    }
    let allowed = answers
        .iter()
        .filter(|(status, _, _)| *status == 200)
        .count();
    assert_eq!(
        allowed, 5,
        "five queries in the window across both routers: {answers:?}"
    );
    for (status, retry_after, body) in &answers[5..] {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(error_code(body), "RATE_LIMITED");
        assert!(
            retry_after.is_some_and(|s| (1..=3600).contains(&s)),
            "{retry_after:?}"
        );
    }
    for (_, _, body) in &answers[..5] {
        data(body);
    }
    // Another client has its own count; mutations count apart from queries.
    let (_, other) = p.user_with_roles("rate@limit.test", &["recruiter"]).await;
    let body = p
        .gql_router(&other, "{ textSearch(query: \"go\") { total } }", json!({}))
        .await;
    data(&body);
    second.shutdown().await.expect("clean shutdown");
    p.stop().await;
}
