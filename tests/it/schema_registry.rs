//! The committed subgraph schemas in `schema/` are what the code serves. A change to a
//! subgraph's GraphQL surface must update its file (`looma sdl <component> > schema/...`), so
//! schema changes are visible in review and checkable in CI (`looma schema check`, run for
//! every committed subgraph by `cli::schema_check_*`).

use looma::LoomaConfig;
use looma::platform::Component;
use std::path::Path;

fn committed(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); write it with `looma sdl`",
            path.display()
        )
    })
}

/// Every subgraph `looma dev` runs has its SDL committed as `schema/<name>.graphql`.
#[test]
fn every_subgraph_schema_is_committed() {
    for &component in Component::SUBGRAPHS {
        let file = format!("{}.graphql", component.name());
        assert!(
            committed(&file) == looma::sdl(component),
            "schema/{file} is out of date; regenerate it with `cargo run -- sdl {} > schema/{file}`",
            component.name()
        );
    }
}

/// The supergraph of the default deployment (every subgraph on its default port), as
/// `looma compose` writes it; `looma serve router --supergraph schema/supergraph.graphql`
/// serves it.
#[test]
fn supergraph_is_committed() {
    let config = LoomaConfig::default();
    let sources: Vec<_> = Component::SUBGRAPHS
        .iter()
        .map(|&component| looma_router::compose::SubgraphSource {
            name: component.name().into(),
            url: format!("http://127.0.0.1:{}/graphql", component.port(&config)),
            sdl: looma::sdl(component),
        })
        .collect();
    let supergraph = looma_router::compose::compose(&sources).expect("our subgraphs compose");
    looma_router::supergraph::Supergraph::parse(&supergraph).expect("and the router loads them");
    let regenerate: Vec<String> = sources
        .iter()
        .map(|s| format!("--subgraph {0}={1}=schema/{0}.graphql", s.name, s.url))
        .collect();
    assert!(
        committed("supergraph.graphql") == supergraph,
        "schema/supergraph.graphql is out of date; regenerate it with `cargo run -- compose {} \
         --output schema/supergraph.graphql`",
        regenerate.join(" ")
    );
}
