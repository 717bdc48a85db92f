//! The configuration service and feature flags, over HTTP, on both backends.

use crate::harness::{ADMIN_EMAIL, Auth, TestPlatform, data, error_code, error_reason};
use serde_json::{Value, json};

crate::on_each_backend!(
    config_versions_diff_and_rollback,
    malformed_config_changes_nothing,
    feature_flags_toggle_independently,
);

async fn set_config(p: &TestPlatform, auth: &Auth, input: Value) -> Value {
    p.gql(
        auth,
        "mutation($input: SetConfigInput!) { setConfig(input: $input) { key version value author comment createdAt } }",
        json!({ "input": input }),
    )
    .await
}

async fn current(p: &TestPlatform, auth: &Auth, key: &str) -> Value {
    let body = p
        .gql(
            auth,
            "query($k: String!) { config(key: $k) { version value author } }",
            json!({"k": key}),
        )
        .await;
    data(&body)["config"].clone()
}

async fn config_versions_diff_and_rollback(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let default = current(&p, &admin, "matching.weights").await;
    assert_eq!(
        default["version"], 0,
        "unset settings report their default as version 0"
    );
    assert_eq!(default["author"], Value::Null);

    let v1 = json!({"required_skills": 0.5, "semantic": 0.3, "experience": 0.2});
    let first = set_config(
        &p,
        &admin,
        json!({"key": "matching.weights", "value": v1, "comment": "favour skills"}),
    )
    .await;
    let first = &data(&first)["setConfig"];
    assert_eq!(first["version"], 1);
    assert_eq!(first["author"], ADMIN_EMAIL);
    assert_eq!(first["comment"], "favour skills");
    assert!(first["createdAt"].is_string());

    let v2 = json!({"required_skills": 0.4, "semantic": 0.4, "location": 0.2});
    let second = set_config(
        &p,
        &admin,
        json!({"key": "matching.weights", "value": v2, "expectedVersion": 1}),
    )
    .await;
    assert_eq!(data(&second)["setConfig"]["version"], 2);

    let stale = set_config(
        &p,
        &admin,
        json!({"key": "matching.weights", "value": {"semantic": 1}, "expectedVersion": 1}),
    )
    .await;
    assert_eq!(error_code(&stale), "CONFLICT");
    assert_eq!(error_reason(&stale), "VERSION_CONFLICT");
    assert_eq!(
        current(&p, &admin, "matching.weights").await["value"],
        v2,
        "a stale write changes nothing"
    );

    let history = p
        .gql(
            &admin,
            "{ configHistory(key: \"matching.weights\") { version } }",
            json!({}),
        )
        .await;
    let versions: Vec<i64> = data(&history)["configHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1, 0]);

    let diff = p
        .gql(
            &admin,
            "{ configDiff(key: \"matching.weights\", fromVersion: 1, toVersion: 2) { path kind before after } }",
            json!({}),
        )
        .await;
    let diff = data(&diff)["configDiff"].clone();
    assert_eq!(
        diff,
        json!([
            {"path": "experience", "kind": "REMOVED", "before": 0.2, "after": null},
            {"path": "location", "kind": "ADDED", "before": null, "after": 0.2},
            {"path": "required_skills", "kind": "CHANGED", "before": 0.5, "after": 0.4},
            {"path": "semantic", "kind": "CHANGED", "before": 0.3, "after": 0.4},
        ])
    );

    let rollback = p
        .gql(
            &admin,
            "mutation { rollbackConfig(key: \"matching.weights\", toVersion: 1) { version value comment } }",
            json!({}),
        )
        .await;
    let rollback = &data(&rollback)["rollbackConfig"];
    assert_eq!(rollback["version"], 3, "a rollback is a new version");
    assert_eq!(rollback["value"], v1);
    assert_eq!(rollback["comment"], "rollback to version 1");

    let old = p
        .gql(
            &admin,
            "{ config(key: \"matching.weights\", version: 2) { value } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&old)["config"]["value"],
        v2,
        "history is never rewritten"
    );
    let missing = p
        .gql(
            &admin,
            "{ config(key: \"matching.weights\", version: 99) { value } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");

    let to_default = p
        .gql(&admin, "mutation { rollbackConfig(key: \"matching.weights\", toVersion: 0) { version value } }", json!({}))
        .await;
    assert_eq!(data(&to_default)["rollbackConfig"]["version"], 4);
    assert_eq!(
        data(&to_default)["rollbackConfig"]["value"],
        default["value"]
    );

    let custom = set_config(
        &p,
        &admin,
        json!({"key": "custom.crm.sync", "value": {"every": "5m"}}),
    )
    .await;
    assert_eq!(data(&custom)["setConfig"]["version"], 1);
    let listed = p
        .gql(
            &admin,
            "{ configs(prefix: \"custom.\") { key version } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&listed)["configs"],
        json!([{"key": "custom.crm.sync", "version": 1}])
    );
    p
}

async fn malformed_config_changes_nothing(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let good = json!({"semantic": 0.7, "required_skills": 0.3});
    set_config(
        &p,
        &admin,
        json!({"key": "matching.weights", "value": good}),
    )
    .await;

    let cases = [
        (
            json!({"key": "matching.weights", "value": "heavy"}),
            "INVALID_CONFIG_VALUE",
        ),
        (
            json!({"key": "matching.weights", "value": {"semantic": -1}}),
            "INVALID_CONFIG_VALUE",
        ),
        (
            json!({"key": "matching.weights", "value": {"vibes": 1}}),
            "INVALID_CONFIG_VALUE",
        ),
        (
            json!({"key": "search.rrf_k", "value": 0}),
            "INVALID_CONFIG_VALUE",
        ),
        (
            json!({"key": "features.job_matching", "value": "yes"}),
            "INVALID_CONFIG_VALUE",
        ),
        (
            json!({"key": "matching.wieghts", "value": {"semantic": 1}}),
            "UNKNOWN_CONFIG_KEY",
        ),
        (json!({"key": "Bad Key", "value": 1}), "INVALID_INPUT"),
    ];
    for (input, reason) in cases {
        let body = set_config(&p, &admin, input.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(error_reason(&body), reason, "{input}");
    }
    let null = set_config(
        &p,
        &admin,
        json!({"key": "matching.weights", "value": null}),
    )
    .await;
    assert_eq!(error_code(&null), "BAD_USER_INPUT", "{null}");
    let unchanged = current(&p, &admin, "matching.weights").await;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["value"], good);

    let raw = p
        .http
        .post(format!("{}/graphql", p.identity_url))
        .bearer_auth(match &admin {
            Auth::Bearer(token) => token.clone(),
            _ => unreachable!(),
        })
        .header("content-type", "application/json")
        .body(r#"{"query": "mutation { setConfig(input: {key: \"matching.weights\", value: {semantic: }}) { version } }"}"#)
        .send()
        .await
        .unwrap();
    let raw: Value = raw.json().await.unwrap();
    assert_eq!(
        error_code(&raw),
        "GRAPHQL_PARSE_FAILED",
        "malformed JSON literal: {raw}"
    );

    let (_, recruiter) = p.user_with_roles("rae@looma.test", &["recruiter"]).await;
    let denied = set_config(
        &p,
        &recruiter,
        json!({"key": "matching.weights", "value": {"semantic": 1}}),
    )
    .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    assert_eq!(current(&p, &admin, "matching.weights").await["version"], 1);
    p
}

async fn flags(p: &TestPlatform, auth: &Auth) -> Vec<(String, bool, i64)> {
    let body = p
        .gql(auth, "{ featureFlags { name enabled version } }", json!({}))
        .await;
    data(&body)["featureFlags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["enabled"].as_bool().unwrap(),
                f["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn feature_flags_toggle_independently(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let initial = flags(&p, &admin).await;
    let names: Vec<&str> = initial.iter().map(|(n, _, _)| n.as_str()).collect();
    for expected in [
        "resume_processing",
        "job_matching",
        "ai_chat",
        "vector_search",
    ] {
        assert!(names.contains(&expected), "{expected} is a flag");
    }
    assert!(
        initial
            .iter()
            .all(|(_, enabled, version)| *enabled && *version == 0)
    );

    let off = p
        .gql(&admin, "mutation { setFeatureFlag(name: \"job_matching\", enabled: false) { name enabled version } }", json!({}))
        .await;
    assert_eq!(
        data(&off)["setFeatureFlag"],
        json!({"name": "job_matching", "enabled": false, "version": 1})
    );

    let (_, recruiter) = p.user_with_roles("flo@looma.test", &["recruiter"]).await;
    let seen = flags(&p, &recruiter).await;
    for (name, enabled, _) in &seen {
        assert_eq!(*enabled, name != "job_matching", "{name}");
    }
    let one = p
        .gql(
            &recruiter,
            "{ featureFlag(name: \"job_matching\") { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&one)["featureFlag"]["enabled"], false);

    let denied = p
        .gql(
            &recruiter,
            "mutation { setFeatureFlag(name: \"job_matching\", enabled: true) { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let unknown = p
        .gql(
            &admin,
            "mutation { setFeatureFlag(name: \"teleport\", enabled: true) { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT");
    let anonymous = p
        .gql(&Auth::None, "{ featureFlags { name } }", json!({}))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");

    let on = p
        .gql(&admin, "mutation { setFeatureFlag(name: \"job_matching\", enabled: true) { enabled version } }", json!({}))
        .await;
    assert_eq!(
        data(&on)["setFeatureFlag"],
        json!({"enabled": true, "version": 2})
    );
    p
}
