//! The committed subgraph schemas in `schema/` are what the code serves. A change to a
//! subgraph's GraphQL surface must update its file (`looma sdl <component> > schema/...`), so
//! schema changes are visible in review and checkable in CI.

use std::path::Path;

fn assert_committed(file: &str, served: String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); write it with `looma sdl`",
            path.display()
        )
    });
    assert!(
        committed == served,
        "{} is out of date; regenerate it with `cargo run -- sdl {} > schema/{file}`",
        path.display(),
        file.trim_end_matches(".graphql")
    );
}

#[test]
fn identity_schema_is_committed() {
    assert_committed("identity.graphql", looma_identity::sdl());
}

#[test]
fn resume_schema_is_committed() {
    assert_committed("resume.graphql", looma_resume::sdl());
}

#[test]
fn matching_schema_is_committed() {
    assert_committed("matching.graphql", looma_matching::sdl());
}

#[test]
fn search_schema_is_committed() {
    assert_committed("search.graphql", looma_search::sdl());
}

#[test]
fn chat_schema_is_committed() {
    assert_committed("chat.graphql", looma_chat::sdl());
}

#[test]
fn monitor_schema_is_committed() {
    assert_committed("monitor.graphql", looma_monitor::sdl());
}

/// The supergraph of the default deployment (every subgraph on its default port), as
/// `looma compose` writes it; `looma serve router --supergraph schema/supergraph.graphql`
/// serves it.
#[test]
fn supergraph_is_committed() {
    let sources = vec![
        looma_router::compose::SubgraphSource {
            name: "identity".into(),
            url: "http://127.0.0.1:8211/graphql".into(),
            sdl: looma_identity::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "resume".into(),
            url: "http://127.0.0.1:8207/graphql".into(),
            sdl: looma_resume::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "search".into(),
            url: "http://127.0.0.1:8210/graphql".into(),
            sdl: looma_search::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "matching".into(),
            url: "http://127.0.0.1:8208/graphql".into(),
            sdl: looma_matching::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "chat".into(),
            url: "http://127.0.0.1:8209/graphql".into(),
            sdl: looma_chat::sdl(),
        },
        looma_router::compose::SubgraphSource {
            name: "monitor".into(),
            url: "http://127.0.0.1:8212/graphql".into(),
            sdl: looma_monitor::sdl(),
        },
    ];
    let supergraph = looma_router::compose::compose(&sources).expect("our subgraphs compose");
    looma_router::supergraph::Supergraph::parse(&supergraph).expect("and the router loads them");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == supergraph,
        "schema/supergraph.graphql is out of date; regenerate it with \
         `cargo run -- compose --subgraph identity=http://127.0.0.1:8211/graphql=schema/identity.graphql \\
         --subgraph resume=http://127.0.0.1:8207/graphql=schema/resume.graphql \\
         --subgraph search=http://127.0.0.1:8210/graphql=schema/search.graphql \\
         --subgraph matching=http://127.0.0.1:8208/graphql=schema/matching.graphql \\
         --subgraph chat=http://127.0.0.1:8209/graphql=schema/chat.graphql \\
         --subgraph monitor=http://127.0.0.1:8212/graphql=schema/monitor.graphql --output schema/supergraph.graphql`"
    );
}
