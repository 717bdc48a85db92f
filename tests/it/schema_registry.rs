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
