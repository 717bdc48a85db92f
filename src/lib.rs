//! The `looma` binary's library half: configuration of the whole platform and the code that
//! starts components. `main.rs` only parses arguments and calls in here; integration tests
//! call in here too, so they run exactly what the binary runs.

pub mod config;
pub mod platform;
pub mod registration;

pub use config::LoomaConfig;
pub use platform::{Component, Platform};

/// A subgraph's federation SDL, as its `_service { sdl }` returns it.
pub fn sdl(component: Component) -> String {
    match component {
        Component::Identity => looma_identity::sdl(),
        Component::Resume => looma_resume::sdl(),
        Component::Search => looma_search::sdl(),
        Component::Matching => looma_matching::sdl(),
        Component::Chat => looma_chat::sdl(),
        Component::Monitor => looma_monitor::sdl(),
        Component::Registry => looma_registry::sdl(),
        Component::Router => {
            String::from("# the router is not a subgraph; see `looma serve router`\n")
        }
    }
}
