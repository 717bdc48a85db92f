//! The router's entity cache on the real platform (`Resume` answers of the resume subgraph
//! cached by permission scope), on both backends: in-process on SQLite, Redis beside
//! PostgreSQL. A resume's stored row is changed behind the service's back to see which reads
//! come from the cache: callers with the same permissions share the cached answer, a caller
//! with other permissions never reads it, and a change made through the resume service is
//! seen at once.

use crate::harness::{Auth, Backend, TestPlatform, data};
use looma::Component;
use looma_router::transport::entity_cache::{CacheScope, CachedEntity};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const COMPONENTS: &[Component] = &[Component::Search, Component::Resume];

fn cache_resumes(config: &mut looma::LoomaConfig) {
    config.router.entity_cache.entities = vec![CachedEntity {
        subgraph: "resume".into(),
        typename: "Resume".into(),
        ttl_ms: 600_000,
        scope: CacheScope::Permissions,
    }];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    crate::harness::run_configured(
        cached_resumes_follow_scopes_and_changes,
        Backend::Sqlite,
        COMPONENTS,
        cache_resumes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis() {
    crate::harness::run_configured(
        cached_resumes_follow_scopes_and_changes,
        Backend::PostgresRedis,
        COMPONENTS,
        cache_resumes,
    )
    .await;
}

/// The search hit's resume as `auth` sees it (an entity fetch to the resume subgraph).
async fn hit(p: &TestPlatform, auth: &Auth) -> Value {
    let body = p
        .gql_router(
            auth,
            "{ textSearch(query: \"selenium test automation\") { hits { id resume { id status profile { headline contactMasked phone } } } } }",
            json!({}),
        )
        .await;
    data(&body)["textSearch"]["hits"][0]["resume"].clone()
}

/// Rewrites the stored headline without telling anyone, as a second writer would.
async fn change_behind_the_cache(p: &TestPlatform, id: &str, headline: &str) {
    let profile = p
        .db()
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            p.db().get_database_backend(),
            match p.db().get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    "SELECT profile FROM resume_resumes WHERE id = $1"
                }
                _ => "SELECT profile FROM resume_resumes WHERE id = ?",
            },
            [id.into()],
        ))
        .await
        .unwrap()
        .expect("the resume row");
    let json: String = profile.try_get("", "profile").unwrap();
    let mut profile: Value = serde_json::from_str(&json).unwrap();
    profile["headline"] = json!(headline);
    p.db()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            p.db().get_database_backend(),
            match p.db().get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE resume_resumes SET profile = $1 WHERE id = $2"
                }
                _ => "UPDATE resume_resumes SET profile = ? WHERE id = ?",
            },
            [profile.to_string().into(), id.into()],
        ))
        .await
        .unwrap();
}

async fn cached_resumes_follow_scopes_and_changes(mut p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let id = crate::search::upload_and_wait_indexed(&p, &admin, "en-05-qa-engineer.txt").await;
    // Nothing changes the resume in the background from here on.
    p.config.resume.worker_enabled = false;
    p.restart_extra().await;

    let (_, kim) = p.user_with_roles("kim@looma.test", &["recruiter"]).await;
    let (_, lee) = p.user_with_roles("lee@looma.test", &["recruiter"]).await;
    let (_, ann) = p.user_with_roles("ann@looma.test", &["viewer"]).await;

    let first = hit(&p, &kim).await;
    assert_eq!(first["id"], id.as_str(), "{first}");
    assert_eq!(first["status"], "INDEXED");
    assert_eq!(first["profile"]["contactMasked"], false);
    let original = first["profile"]["headline"].clone();
    assert!(original.is_string(), "{first}");
    // The answer is stored in the background.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    change_behind_the_cache(&p, &id, "Changed behind the cache").await;
    assert_eq!(
        hit(&p, &lee).await,
        first,
        "a recruiter with the same permissions reads the cached answer"
    );
    let for_viewer = hit(&p, &ann).await;
    assert_eq!(
        for_viewer["profile"]["headline"], "Changed behind the cache",
        "a viewer's permissions differ: fetched afresh, never the recruiters' entry"
    );
    assert_eq!(for_viewer["profile"]["contactMasked"], true);
    assert_ne!(for_viewer["profile"]["phone"], first["profile"]["phone"]);

    // A change through the service (queued for parsing again) is seen at once.
    let body = p
        .gql_router(
            &admin,
            "mutation($id: ID!) { reprocessResume(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data(&body)["reprocessResume"]["status"], "RECEIVED");
    let after = hit(&p, &kim).await;
    assert_eq!(after["status"], "RECEIVED", "{after}");
    assert_eq!(after["profile"]["headline"], "Changed behind the cache");
    p
}

/// A router alone in its process with an in-process cache would never hear of a change made
/// by a subgraph in another: it refuses to start instead of serving stale entities.
#[tokio::test]
async fn a_lone_router_with_an_in_process_cache_refuses_the_entity_cache() {
    let mut config = looma::LoomaConfig::default();
    config.cache.redis_url = None;
    cache_resumes(&mut config);
    let error = match looma::Platform::start(&config, &[Component::Router], true).await {
        Ok(_) => panic!("the router started with an entity cache nobody can invalidate"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("router.entity_cache"), "{error}");
    assert!(error.contains("cache.redis_url"), "{error}");
}
