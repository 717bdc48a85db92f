//! Users, sessions, tokens and API keys, over HTTP, on SQLite and on PostgreSQL + Redis.

use crate::harness::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Auth, ROUTER_SECRET, TestPlatform, data, error_code, error_reason,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use looma_auth::token::{AccessClaims, SigningKeyMaterial};
use looma_auth::{ForwardedPrincipalCodec, Principal, PrincipalKind};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

crate::on_each_backend!(
    login_then_me,
    anonymous_and_unknown_credentials,
    refresh_rotates_and_detects_reuse,
    logout_ends_the_session,
    disabled_account_cannot_log_in_or_refresh,
    api_keys_authenticate_services,
    bad_user_input_changes_nothing,
    tampered_expired_and_unsigned_tokens_are_rejected,
    missing_permission_is_forbidden,
    key_rotation_keeps_sessions_and_survives_restart,
    user_entities_resolve_in_batches,
    forwarded_principal_needs_the_router_secret,
    repeated_failed_logins_are_throttled,
    health_ready_and_jwks,
);

async fn login_then_me(p: TestPlatform) -> TestPlatform {
    let login = p.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let payload = &data(&login)["login"];
    assert_eq!(payload["tokenType"], "Bearer");
    assert!(payload["expiresIn"].as_i64().unwrap() > 800);
    assert!(
        payload["refreshToken"]
            .as_str()
            .unwrap()
            .starts_with("lrt_")
    );
    let token = payload["accessToken"].as_str().unwrap().to_owned();

    let me = p
        .gql(
            &Auth::Bearer(token),
            "{ me { email displayName status roles permissions } caller { kind email } }",
            json!({}),
        )
        .await;
    let me = data(&me);
    assert_eq!(me["me"]["email"], ADMIN_EMAIL);
    assert_eq!(me["me"]["status"], "ACTIVE");
    assert_eq!(me["me"]["roles"], json!(["admin"]));
    let permissions = me["me"]["permissions"].as_array().unwrap();
    assert!(permissions.contains(&json!("config:write")));
    assert_eq!(me["caller"]["kind"], "USER");

    let mixed_case = p.login("  ROOT@Looma.Test ", ADMIN_PASSWORD).await;
    assert!(
        data(&mixed_case)["login"]["accessToken"].is_string(),
        "emails are case-insensitive"
    );

    let wrong = p.login(ADMIN_EMAIL, "not-the-password").await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(error_reason(&wrong), "INVALID_CREDENTIALS");
    let unknown = p.login("nobody@looma.test", ADMIN_PASSWORD).await;
    assert_eq!(
        error_reason(&unknown),
        "INVALID_CREDENTIALS",
        "unknown email looks like a wrong password"
    );
    p
}

async fn anonymous_and_unknown_credentials(p: TestPlatform) -> TestPlatform {
    let anonymous = p.gql(&Auth::None, "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    assert_eq!(error_reason(&anonymous), "MISSING_CREDENTIALS");

    let caller = p.gql(&Auth::None, "{ caller { kind } }", json!({})).await;
    assert_eq!(data(&caller)["caller"], Value::Null);

    let garbage = p
        .gql(
            &Auth::Bearer("garbage".into()),
            "{ caller { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&garbage), "UNAUTHENTICATED");
    assert_eq!(
        garbage["data"],
        Value::Null,
        "nothing executes with bad credentials"
    );

    let basic = p
        .gql(
            &Auth::Header("authorization", "Basic YTpi".into()),
            "{ caller { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&basic), "UNAUTHENTICATED");
    p
}

async fn refresh(p: &TestPlatform, token: &str) -> Value {
    p.gql(
        &Auth::None,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { email } } }",
        json!({"t": token}),
    )
    .await
}

async fn refresh_rotates_and_detects_reuse(p: TestPlatform) -> TestPlatform {
    let login = p.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let first = data(&login)["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = refresh(&p, &first).await;
    let rotated = &data(&rotated)["refreshToken"];
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "a refresh issues a new refresh token");
    assert_eq!(rotated["user"]["email"], ADMIN_EMAIL);
    let access = rotated["accessToken"].as_str().unwrap().to_owned();
    let me = p
        .gql(&Auth::Bearer(access), "{ me { email } }", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["email"], ADMIN_EMAIL);

    let replay = refresh(&p, &first).await;
    assert_eq!(error_code(&replay), "UNAUTHENTICATED");
    assert_eq!(error_reason(&replay), "REFRESH_TOKEN_REUSED");

    let after_reuse = refresh(&p, &second).await;
    assert_eq!(
        error_reason(&after_reuse),
        "REFRESH_TOKEN_INVALID",
        "reuse revokes the whole family, including the newest token"
    );

    let other_session = p.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let other = data(&other_session)["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        refresh(&p, &other).await.get("errors").is_none(),
        "other logins are unaffected"
    );

    let unknown = refresh(&p, "lrt_unknown").await;
    assert_eq!(error_reason(&unknown), "REFRESH_TOKEN_INVALID");
    p
}

async fn logout_ends_the_session(p: TestPlatform) -> TestPlatform {
    let login = p.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = data(&login)["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = p
        .gql(
            &Auth::None,
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(data(&out)["logout"], true);
    assert_eq!(
        error_reason(&refresh(&p, &token).await),
        "REFRESH_TOKEN_INVALID"
    );
    p
}

async fn set_status(p: &TestPlatform, admin: &Auth, id: &str, status: &str) -> Value {
    p.gql(
        admin,
        "mutation($id: ID!, $s: UserStatus!) { setUserStatus(id: $id, status: $s) { status } }",
        json!({"id": id, "s": status}),
    )
    .await
}

async fn disabled_account_cannot_log_in_or_refresh(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let (id, _) = p.user_with_roles("dana@looma.test", &["recruiter"]).await;
    let session = p.login("dana@looma.test", "Sturdy-Passw0rd-42").await;
    let refresh_token = data(&session)["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let disabled = set_status(&p, &admin, &id, "DISABLED").await;
    assert_eq!(data(&disabled)["setUserStatus"]["status"], "DISABLED");

    let login = p.login("dana@looma.test", "Sturdy-Passw0rd-42").await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
    assert_eq!(error_reason(&login), "ACCOUNT_DISABLED");
    let wrong_password = p.login("dana@looma.test", "Wrong-Passw0rd-42").await;
    assert_eq!(
        error_reason(&wrong_password),
        "INVALID_CREDENTIALS",
        "a disabled account is not revealed to someone without its password"
    );
    assert_eq!(
        error_reason(&refresh(&p, &refresh_token).await),
        "REFRESH_TOKEN_INVALID"
    );

    let self_disable = {
        let me = p.gql(&admin, "{ me { id } }", json!({})).await;
        let admin_id = data(&me)["me"]["id"].as_str().unwrap().to_owned();
        set_status(&p, &admin, &admin_id, "DISABLED").await
    };
    assert_eq!(error_code(&self_disable), "BAD_USER_INPUT");

    let enabled = set_status(&p, &admin, &id, "ACTIVE").await;
    assert_eq!(data(&enabled)["setUserStatus"]["status"], "ACTIVE");
    let login = p.login("dana@looma.test", "Sturdy-Passw0rd-42").await;
    assert!(data(&login)["login"]["accessToken"].is_string());
    p
}

async fn create_key(p: &TestPlatform, auth: &Auth, permissions: Value) -> Value {
    p.gql(
        auth,
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            secret apiKey { id prefix permissions lastUsedAt revokedAt } } }",
        json!({"input": {"name": "CRM back-end", "permissions": permissions}}),
    )
    .await
}

async fn api_keys_authenticate_services(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let created = create_key(&p, &admin, json!(["config:read", "config:read"])).await;
    let created = &data(&created)["createApiKey"];
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(&format!(
        "lk_{}_",
        created["apiKey"]["prefix"].as_str().unwrap()
    )));
    assert_eq!(created["apiKey"]["permissions"], json!(["config:read"]));
    assert_eq!(created["apiKey"]["lastUsedAt"], Value::Null);

    let service = Auth::ApiKey(secret.clone());
    let caller = p
        .gql(
            &service,
            "{ caller { kind subject permissions } configs(prefix: \"matching.\") { key } }",
            json!({}),
        )
        .await;
    let caller = data(&caller);
    assert_eq!(caller["caller"]["kind"], "SERVICE");
    assert_eq!(caller["caller"]["subject"], key_id.as_str());
    assert_eq!(caller["configs"][0]["key"], "matching.weights");

    let flags = p
        .gql(&service, "{ featureFlags { name enabled } }", json!({}))
        .await;
    assert!(!data(&flags)["featureFlags"].as_array().unwrap().is_empty());

    let forbidden = p
        .gql(
            &service,
            "mutation { setFeatureFlag(name: \"ai_chat\", enabled: false) { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let me = p.gql(&service, "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "FORBIDDEN");

    let listed = p
        .gql(&admin, "{ apiKeys { id lastUsedAt } }", json!({}))
        .await;
    let listed = data(&listed)["apiKeys"].as_array().unwrap().clone();
    let ours = listed
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .expect("listed");
    assert!(ours["lastUsedAt"].is_string(), "use is recorded: {ours}");

    let (_, recruiter) = p.user_with_roles("ria@looma.test", &["recruiter"]).await;
    let escalation = create_key(&p, &recruiter, json!(["resume:read"])).await;
    assert_eq!(
        error_code(&escalation),
        "FORBIDDEN",
        "recruiters cannot manage keys"
    );
    let unknown = create_key(&p, &admin, json!(["resume:teleport"])).await;
    assert_eq!(error_reason(&unknown), "UNKNOWN_PERMISSION");
    let empty = create_key(&p, &admin, json!([])).await;
    assert_eq!(error_code(&empty), "BAD_USER_INPUT");

    let revoked = p
        .gql(
            &admin,
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({"id": key_id}),
        )
        .await;
    assert!(data(&revoked)["revokeApiKey"]["revokedAt"].is_string());
    let after = p.gql(&service, "{ caller { kind } }", json!({})).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED");
    assert_eq!(error_reason(&after), "API_KEY_INVALID");

    let forged = format!("{}x", &secret[..secret.len() - 1]);
    let forged = p
        .gql(&Auth::ApiKey(forged), "{ caller { kind } }", json!({}))
        .await;
    assert_eq!(error_reason(&forged), "API_KEY_INVALID");
    p
}

async fn user_count(p: &TestPlatform, admin: &Auth) -> usize {
    let users = p
        .gql(
            admin,
            "{ users(first: 200) { nodes { email } } }",
            json!({}),
        )
        .await;
    data(&users)["users"]["nodes"].as_array().unwrap().len()
}

async fn create_user(p: &TestPlatform, admin: &Auth, input: Value) -> Value {
    p.gql(
        admin,
        "mutation($input: CreateUserInput!) { createUser(input: $input) { id email roles } }",
        json!({ "input": input }),
    )
    .await
}

async fn bad_user_input_changes_nothing(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let created = create_user(
        &p,
        &admin,
        json!({"email": "Lee@Looma.test", "password": "Sturdy-Passw0rd-42", "displayName": "Lee", "roles": ["viewer", "viewer"]}),
    )
    .await;
    assert_eq!(data(&created)["createUser"]["email"], "lee@looma.test");
    assert_eq!(data(&created)["createUser"]["roles"], json!(["viewer"]));
    let before = user_count(&p, &admin).await;

    let cases = [
        (
            json!({"email": "lee@looma.test", "password": "Other-Passw0rd-42", "displayName": "Lee 2"}),
            "CONFLICT",
            "DUPLICATE_EMAIL",
        ),
        (
            json!({"email": "new@looma.test", "password": "short", "displayName": "New"}),
            "BAD_USER_INPUT",
            "WEAK_PASSWORD",
        ),
        (
            json!({"email": "new@looma.test", "password": "password123", "displayName": "New"}),
            "BAD_USER_INPUT",
            "WEAK_PASSWORD",
        ),
        (
            json!({"email": "new@looma.test", "password": "Sturdy-Passw0rd-42", "displayName": "New", "roles": ["overlord"]}),
            "BAD_USER_INPUT",
            "UNKNOWN_ROLE",
        ),
        (
            json!({"email": "not-an-email", "password": "Sturdy-Passw0rd-42", "displayName": "New"}),
            "BAD_USER_INPUT",
            "INVALID_INPUT",
        ),
        (
            json!({"email": "new@looma.test", "password": "Sturdy-Passw0rd-42", "displayName": "  "}),
            "BAD_USER_INPUT",
            "INVALID_INPUT",
        ),
    ];
    for (input, code, reason) in cases {
        let body = create_user(&p, &admin, input.clone()).await;
        assert_eq!(error_code(&body), code, "{input}");
        assert_eq!(error_reason(&body), reason, "{input}");
    }
    let wrong_type = create_user(
        &p,
        &admin,
        json!({"email": 42, "password": "x", "displayName": "x"}),
    )
    .await;
    assert_eq!(error_code(&wrong_type), "BAD_USER_INPUT");

    assert_eq!(
        user_count(&p, &admin).await,
        before,
        "no bad input created a user"
    );
    let original = p.login("lee@looma.test", "Sturdy-Passw0rd-42").await;
    assert!(
        data(&original)["login"]["accessToken"].is_string(),
        "the original user is intact"
    );

    let bad_role = p
        .gql(
            &admin,
            "mutation { createRole(input: {name: \"Bad Name\", permissions: [\"resume:read\"]}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad_role), "BAD_USER_INPUT");
    let role = p
        .gql(
            &admin,
            "mutation { createRole(input: {name: \"hiring-manager\", description: \"Reads and matches\",
                permissions: [\"resume:read\", \"match:run\"]}) { name permissions builtin } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&role)["createRole"]["permissions"],
        json!(["match:run", "resume:read"])
    );
    assert_eq!(data(&role)["createRole"]["builtin"], false);
    let duplicate = p
        .gql(
            &admin,
            "mutation { createRole(input: {name: \"hiring-manager\", permissions: []}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_reason(&duplicate), "DUPLICATE_ROLE");
    let page = p
        .gql(&admin, "{ users(first: 0) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&page), "BAD_USER_INPUT");
    p
}

/// Builds a token signed with identity's real active key (read from its table), so the only
/// thing wrong with it is what the test changes.
async fn active_key(p: &TestPlatform) -> SigningKeyMaterial {
    let db = p.db();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kid, private_key_pem FROM identity_signing_keys WHERE status = 'active'",
        ))
        .await
        .unwrap()
        .expect("an active key");
    let kid: String = row.try_get("", "kid").unwrap();
    let pem: String = row.try_get("", "private_key_pem").unwrap();
    SigningKeyMaterial::from_pem(&kid, &pem).unwrap()
}

fn claims(p: &TestPlatform, exp_offset: i64) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        iss: p.config.identity.issuer.clone(),
        sub: "someone".into(),
        aud: p.config.identity.audience.clone(),
        exp: now + exp_offset,
        iat: now - 10,
        jti: "test".into(),
        kind: PrincipalKind::User,
        email: Some("someone@looma.test".into()),
        roles: vec!["admin".into()],
        perms: vec!["user:read".into()],
    }
}

async fn tampered_expired_and_unsigned_tokens_are_rejected(p: TestPlatform) -> TestPlatform {
    let key = active_key(&p).await;
    let valid = key.sign(&claims(&p, 600)).unwrap();
    let ok = p
        .gql(
            &Auth::Bearer(valid.clone()),
            "{ caller { email } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&ok)["caller"]["email"],
        "someone@looma.test",
        "control: a good token works"
    );

    let expired = key.sign(&claims(&p, -3600)).unwrap();
    let body = p
        .gql(&Auth::Bearer(expired), "{ caller { email } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(error_reason(&body), "TOKEN_EXPIRED");

    let parts: Vec<&str> = valid.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["perms"] = json!(["user:read", "user:write", "security:admin"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let body = p
        .gql(&Auth::Bearer(tampered), "{ caller { email } }", json!({}))
        .await;
    assert_eq!(error_reason(&body), "TOKEN_INVALID");

    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": key.kid}).to_string());
    let unsigned = format!("{none_header}.{forged_payload}.");
    let body = p
        .gql(&Auth::Bearer(unsigned), "{ caller { email } }", json!({}))
        .await;
    assert_eq!(error_reason(&body), "TOKEN_INVALID");

    let hs_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": key.kid}).to_string());
    let confused = format!("{hs_header}.{}.{}", parts[1], parts[2]);
    let body = p
        .gql(&Auth::Bearer(confused), "{ caller { email } }", json!({}))
        .await;
    assert_eq!(error_reason(&body), "TOKEN_INVALID");

    let stranger = SigningKeyMaterial::generate().unwrap();
    let foreign = stranger.sign(&claims(&p, 600)).unwrap();
    let body = p
        .gql(&Auth::Bearer(foreign), "{ caller { email } }", json!({}))
        .await;
    assert_eq!(error_reason(&body), "UNKNOWN_SIGNING_KEY");

    let mut wrong_audience = claims(&p, 600);
    wrong_audience.aud = "someone-else".into();
    let body = p
        .gql(
            &Auth::Bearer(key.sign(&wrong_audience).unwrap()),
            "{ caller { email } }",
            json!({}),
        )
        .await;
    assert_eq!(error_reason(&body), "TOKEN_INVALID");
    p
}

async fn missing_permission_is_forbidden(p: TestPlatform) -> TestPlatform {
    let (_, viewer) = p.user_with_roles("vic@looma.test", &["viewer"]).await;
    let body = create_user(
        &p,
        &viewer,
        json!({"email": "x@looma.test", "password": "Sturdy-Passw0rd-42", "displayName": "X"}),
    )
    .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(error_reason(&body), "MISSING_PERMISSION");
    assert_eq!(body["data"], Value::Null, "no partial user data leaks");

    for query in [
        "{ users { nodes { id } } }",
        "{ roles { name } }",
        "{ apiKeys { id } }",
    ] {
        let body = p.gql(&viewer, query, json!({})).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}");
    }
    let config = p
        .gql(
            &viewer,
            "{ config(key: \"matching.weights\") { version } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&config)["config"]["version"],
        0,
        "viewers may read configuration"
    );
    let rotate = p
        .gql(&viewer, "mutation { rotateSigningKey { kid } }", json!({}))
        .await;
    assert_eq!(error_code(&rotate), "FORBIDDEN");
    p
}

async fn jwks(p: &TestPlatform) -> Value {
    p.http
        .get(format!("{}/.well-known/jwks.json", p.identity_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn key_rotation_keeps_sessions_and_survives_restart(p: TestPlatform) -> TestPlatform {
    let before = jwks(&p).await;
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    let admin = p.admin().await;
    let Auth::Bearer(old_token) = &admin else {
        unreachable!()
    };
    assert_eq!(header_kid(old_token), before["keys"][0]["kid"]);

    let rotated = p
        .gql(&admin, "mutation { rotateSigningKey { kid } }", json!({}))
        .await;
    let new_kid = data(&rotated)["rotateSigningKey"]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = jwks(&p).await;
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "the retired key stays published: {after}");
    assert!(kids.contains(&new_kid.as_str()));

    let still = p.gql(&admin, "{ me { email } }", json!({})).await;
    assert_eq!(
        data(&still)["me"]["email"],
        ADMIN_EMAIL,
        "tokens of the old key still work"
    );
    let fresh = p.admin().await;
    let Auth::Bearer(fresh_token) = &fresh else {
        unreachable!()
    };
    assert_eq!(header_kid(fresh_token), new_kid);

    let p = p.restart().await;
    let restarted = jwks(&p).await;
    assert_eq!(restarted, after, "keys persist across restarts");
    let me = p.gql(&fresh, "{ me { email } }", json!({})).await;
    assert_eq!(
        data(&me)["me"]["email"],
        ADMIN_EMAIL,
        "tokens survive a restart"
    );
    p
}

async fn user_entities_resolve_in_batches(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let (id_a, _) = p.user_with_roles("ana@looma.test", &["viewer"]).await;
    let (id_b, viewer_b) = p.user_with_roles("ben@looma.test", &["viewer"]).await;
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }";
    let reps = json!([
        {"__typename": "User", "id": id_a},
        {"__typename": "User", "id": "missing"},
        {"__typename": "User", "id": id_b},
    ]);
    let body = p.gql(&admin, query, json!({"r": reps})).await;
    let entities = data(&body)["_entities"].as_array().unwrap().clone();
    assert_eq!(entities.len(), 3);
    assert_eq!(entities[0]["email"], "ana@looma.test");
    assert_eq!(entities[1], Value::Null, "an unknown id resolves to null");
    assert_eq!(entities[2]["email"], "ben@looma.test");

    let own = p
        .gql(
            &viewer_b,
            query,
            json!({"r": [{"__typename": "User", "id": id_b}]}),
        )
        .await;
    assert_eq!(
        data(&own)["_entities"][0]["email"],
        "ben@looma.test",
        "users may resolve themselves"
    );
    let other = p
        .gql(
            &viewer_b,
            query,
            json!({"r": [{"__typename": "User", "id": id_a}]}),
        )
        .await;
    assert_eq!(error_code(&other), "FORBIDDEN");

    let sdl = p.gql(&Auth::None, "{ _service { sdl } }", json!({})).await;
    let sdl = data(&sdl)["_service"]["sdl"].as_str().unwrap().to_owned();
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    assert!(sdl.contains("@link"), "federation v2 SDL");
    p
}

async fn forwarded_principal_needs_the_router_secret(p: TestPlatform) -> TestPlatform {
    let principal = Principal {
        subject: "svc-router-test".into(),
        kind: PrincipalKind::Service,
        email: None,
        roles: vec![],
        permissions: ["config:read".to_owned()].into(),
    };
    let good = ForwardedPrincipalCodec::new(ROUTER_SECRET.as_bytes())
        .unwrap()
        .encode(&principal);
    let body = p
        .gql(
            &Auth::Header("x-looma-principal", good),
            "{ caller { subject kind } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["caller"]["subject"], "svc-router-test");

    let forged = ForwardedPrincipalCodec::new(&[9u8; 32])
        .unwrap()
        .encode(&principal);
    let body = p
        .gql(
            &Auth::Header("x-looma-principal", forged),
            "{ caller { subject } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(error_reason(&body), "FORWARDED_PRINCIPAL_INVALID");
    p
}

async fn repeated_failed_logins_are_throttled(p: TestPlatform) -> TestPlatform {
    let max = p.config.identity.login_max_failures;
    for _ in 0..max {
        let body = p.login(ADMIN_EMAIL, "Wrong-Passw0rd-1").await;
        assert_eq!(error_reason(&body), "INVALID_CREDENTIALS");
    }
    let blocked = p.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        error_code(&blocked),
        "RATE_LIMITED",
        "even the right password waits out the window"
    );
    let other = p.login("other@looma.test", "whatever-Passw0rd").await;
    assert_eq!(
        error_reason(&other),
        "INVALID_CREDENTIALS",
        "throttling is per account"
    );
    p
}

async fn health_ready_and_jwks(p: TestPlatform) -> TestPlatform {
    let health = p
        .http
        .get(format!("{}/health", p.identity_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = p
        .http
        .get(format!("{}/ready", p.identity_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["checks"]["cache"], "ok");
    let keys = jwks(&p).await;
    let key = &keys["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(key.get("d").is_none(), "no private material is published");

    // Announce a 3 MiB body and send none: the server must refuse on the header alone
    // (a client streaming the body could see the connection closed mid-upload instead).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = p.identity_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        3 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 64];
    let read = stream.read(&mut head).await.unwrap();
    let status_line = String::from_utf8_lossy(&head[..read]).to_string();
    assert!(
        status_line.starts_with("HTTP/1.1 413"),
        "bodies over the limit are refused: {status_line}"
    );
    p
}
