//! Supergraph hot reload: the supergraph file's directory is watched (notify), and once changes
//! have settled the file is read again; a new supergraph that parses is swapped in, a broken
//! one is rejected and logged while the old one keeps serving.
//!
//! The directory is watched rather than the file, because editors save by writing a new file
//! and renaming it over the old one (and Kubernetes swaps a ConfigMap by a symlink next to it):
//! a watch on the file itself would be left on a file that is gone. Any change in the
//! directory triggers a read; only a different text is parsed.

use super::RouterService;
use crate::supergraph::{Supergraph, SupergraphError};
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, PollWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum SupergraphFileError {
    #[error("cannot read the supergraph file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("supergraph {path}: {source}")]
    Supergraph {
        path: PathBuf,
        source: SupergraphError,
    },
}

pub fn read_supergraph(path: &Path) -> Result<Supergraph, SupergraphFileError> {
    let sdl = std::fs::read_to_string(path).map_err(|source| SupergraphFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    Supergraph::parse(&sdl).map_err(|source| SupergraphFileError::Supergraph {
        path: path.to_owned(),
        source,
    })
}

/// Watches the supergraph file and swaps in a new version when it changes and parses; a broken
/// file is logged and the previous supergraph keeps serving. The file is read once it has been
/// left alone for `reload_interval_ms`, so a save in several writes is read once, whole.
pub fn spawn_reloader(service: Arc<RouterService>, path: PathBuf) -> tokio::task::JoinHandle<()> {
    let settle = Duration::from_millis(service.config().reload_interval_ms.max(100));
    // One pending signal is enough: the file is read in full whatever changed.
    let (changed, mut changes) = mpsc::channel::<()>(1);
    let watcher = watch_directory(&path, settle, changed);
    tokio::spawn(async move {
        // Dropping the watcher ends the events, so it lives as long as this task.
        let _watcher = watcher;
        let mut last_sdl = service.current().supergraph.sdl.clone();
        while changes.recv().await.is_some() {
            loop {
                match tokio::time::timeout(settle, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_settled) => break,
                }
            }
            reload_if_changed(&service, &path, &mut last_sdl);
        }
    })
}

fn reload_if_changed(service: &RouterService, path: &Path, last_sdl: &mut String) {
    let Ok(sdl) = std::fs::read_to_string(path) else {
        tracing::warn!(path = %path.display(), "supergraph file unreadable; keeping the current one");
        return;
    };
    if sdl == *last_sdl {
        return;
    }
    match Supergraph::parse(&sdl) {
        Ok(supergraph) => {
            service.replace(supergraph);
            *last_sdl = sdl;
            tracing::info!(path = %path.display(), "supergraph reloaded");
        }
        Err(error) => {
            tracing::error!(path = %path.display(), %error, "new supergraph rejected; keeping the current one");
        }
    }
}

/// Starts watching the directory of `path`, signalling `changed` on every change there. The
/// platform's file events are used where they work; where they are unavailable (no inotify
/// instances left, some network file systems) the directory is polled every `poll_interval`.
/// `None` (logged): no hot reload.
fn watch_directory(
    path: &Path,
    poll_interval: Duration,
    changed: mpsc::Sender<()>,
) -> Option<Box<dyn Watcher + Send>> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let on_event = move |event: notify::Result<notify::Event>| match event {
        Ok(event) if is_change(&event.kind) => {
            // Full: a signal is already pending, which covers this change too.
            let _ = changed.try_send(());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "watching the supergraph directory"),
    };
    let native = notify::recommended_watcher(on_event.clone()).and_then(|mut watcher| {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(Box::new(watcher) as Box<dyn Watcher + Send>)
    });
    let error = match native {
        Ok(watcher) => return Some(watcher),
        Err(error) => error,
    };
    tracing::warn!(dir = %dir.display(), %error, "no file events for the supergraph directory; polling it instead");
    let config = notify::Config::default().with_poll_interval(poll_interval);
    let polling = PollWatcher::new(on_event, config).and_then(|mut watcher| {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(Box::new(watcher) as Box<dyn Watcher + Send>)
    });
    match polling {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::error!(dir = %dir.display(), %error, "cannot watch the supergraph directory; hot reload is off");
            None
        }
    }
}

/// Reads (ours included) change nothing; a file closed after writing does.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}
