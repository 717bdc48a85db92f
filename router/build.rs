//! Embeds the GraphiQL playground assets (fetched by `scripts/vendor-graphiql` into
//! `assets/vendor/`) so the router serves them from the binary. Without them the router
//! still builds and says how to install them.

use std::path::Path;

const ASSETS: &[(&str, &str)] = &[
    ("graphiql.min.js", "application/javascript; charset=utf-8"),
    ("graphiql.min.css", "text/css; charset=utf-8"),
    (
        "react.production.min.js",
        "application/javascript; charset=utf-8",
    ),
    (
        "react-dom.production.min.js",
        "application/javascript; charset=utf-8",
    ),
    ("LICENSE-graphiql", "text/plain; charset=utf-8"),
    ("LICENSE-react", "text/plain; charset=utf-8"),
    ("LICENSE-react-dom", "text/plain; charset=utf-8"),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let vendor = Path::new(&manifest).join("assets").join("vendor");
    println!("cargo:rerun-if-changed={}", vendor.display());
    let mut code = String::from("pub static GRAPHIQL_ASSETS: &[(&str, &str, &[u8])] = &[\n");
    let complete = ASSETS.iter().all(|(name, _)| vendor.join(name).is_file());
    if complete {
        for (name, content_type) in ASSETS {
            let path = vendor.join(name);
            println!("cargo:rerun-if-changed={}", path.display());
            code.push_str(&format!(
                "    ({name:?}, {content_type:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            ));
        }
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").unwrap_or_default();
    let _ = std::fs::write(Path::new(&out).join("graphiql_assets.rs"), code);
}
