//! Versions of one embedded collection: the live version every search and ordinary write goes
//! to, and at most one staged version a reindex fills beside it until it is committed (swapped
//! in at once) or aborted. Generic over what a version holds (a tantivy index, a vector graph).
//!
//! ## On disk
//! Under a collection's root: one directory `v<N>/` per version and `LIVE`, the live version's
//! number, replaced by rename (written to `LIVE.tmp`, synced, renamed, directory synced) — the
//! one step that commits a reindex. A root written before versions existed holds its files
//! directly: that is version 0, read in place until a reindex replaces it. At open, every
//! version that is not live is removed (a reindex that crashed before its commit, or an old
//! version whose removal a crash interrupted), so a crash at any moment leaves the live
//! version serving and nothing else.
//!
//! ## In memory
//! Each version is an `Arc<VersionHandle<T>>`. Searches clone the live handle and release the
//! lock at once, so a commit never waits for them and they finish on the version they started
//! with. Writes to the live version hold the read side of the lock for the whole write, so a
//! commit (the write side) swaps only between writes and no write can land in a version that
//! has just been retired. A retired version's directory is removed when its last handle is
//! dropped, i.e. after the last search running on it ends.

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use crate::{Collection, EngineError};

const LIVE_FILE: &str = "LIVE";
const LIVE_TEMP: &str = "LIVE.tmp";

fn io_error(context: String) -> impl Fn(std::io::Error) -> EngineError {
    move |error| EngineError::Internal(format!("{context}: {error}"))
}

fn poisoned() -> EngineError {
    EngineError::Internal("a collection version lock is poisoned".into())
}

/// The version directories under one collection's root.
pub(crate) struct VersionDirs {
    root: PathBuf,
}

fn version_of(name: &str) -> Option<u64> {
    name.strip_prefix('v')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
}

impl VersionDirs {
    /// Opens `root` (creating it and version 1 when empty), removes every version that is not
    /// live, and returns the directories with the live version's number.
    pub(crate) fn open(root: &Path) -> Result<(VersionDirs, u64), EngineError> {
        fs::create_dir_all(root).map_err(io_error(format!("cannot create {}", root.display())))?;
        let dirs = VersionDirs {
            root: root.to_path_buf(),
        };
        let (versions, legacy) = dirs.entries()?;
        let live_file_exists = root.join(LIVE_FILE).exists();
        let live = match fs::read_to_string(root.join(LIVE_FILE)) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| {
                EngineError::Internal(format!(
                    "{} is damaged (expected a version number, found {text:?})",
                    root.join(LIVE_FILE).display()
                ))
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if legacy {
                    0
                } else {
                    1
                }
            }
            Err(error) => {
                return Err(io_error(format!("cannot read {}", root.display()))(error));
            }
        };
        if live > 0 {
            let path = dirs.path(live);
            if !path.exists() {
                if live_file_exists {
                    return Err(EngineError::Internal(format!(
                        "{} names version {live}, which is missing",
                        root.join(LIVE_FILE).display()
                    )));
                }
                fs::create_dir_all(&path)
                    .map_err(io_error(format!("cannot create {}", path.display())))?;
            }
            if !live_file_exists {
                dirs.publish(live)?;
            }
        }
        for version in versions.into_iter().filter(|v| *v != live) {
            tracing::info!(root = %root.display(), version, "removing a version that is not live (an unfinished reindex or a retired version)");
            dirs.remove(version);
        }
        if live > 0 && legacy {
            dirs.remove(0);
        }
        Ok((dirs, live))
    }

    /// The version directories present, and whether files from before versions are.
    fn entries(&self) -> Result<(Vec<u64>, bool), EngineError> {
        let mut versions = Vec::new();
        let mut legacy = false;
        let listing = fs::read_dir(&self.root)
            .map_err(io_error(format!("cannot list {}", self.root.display())))?;
        for entry in listing {
            let entry = entry.map_err(io_error(format!("cannot list {}", self.root.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == LIVE_FILE || name == LIVE_TEMP {
                continue;
            }
            match version_of(&name) {
                Some(version) if entry.path().is_dir() => versions.push(version),
                _ => legacy = true,
            }
        }
        Ok((versions, legacy))
    }

    pub(crate) fn path(&self, version: u64) -> PathBuf {
        if version == 0 {
            self.root.clone()
        } else {
            self.root.join(format!("v{version}"))
        }
    }

    /// Rewrites live version `live` into a new version with `rewrite` (given the new, empty
    /// directory), makes the new version live and removes the old. A crash before
    /// the switch leaves the old version live and the half-written one is removed at the next
    /// open, so the rewrite simply runs again. Returns the new version's number.
    pub(crate) fn rewrite_live(
        &self,
        live: u64,
        rewrite: impl FnOnce(&Path) -> Result<(), EngineError>,
    ) -> Result<u64, EngineError> {
        // `open` removed every version but the live one, so the next number is free.
        let next = live + 1;
        let path = self.prepare(next)?;
        if let Err(error) = rewrite(&path) {
            self.remove(next);
            return Err(error);
        }
        self.publish(next)?;
        self.remove(live);
        Ok(next)
    }

    /// An empty directory for a new version (whatever an earlier attempt left there is removed).
    fn prepare(&self, version: u64) -> Result<PathBuf, EngineError> {
        let path = self.path(version);
        if path.exists() {
            fs::remove_dir_all(&path)
                .map_err(io_error(format!("cannot remove {}", path.display())))?;
        }
        fs::create_dir_all(&path).map_err(io_error(format!("cannot create {}", path.display())))?;
        Ok(path)
    }

    /// Points `LIVE` at `version`: written beside, synced, renamed over, directory synced.
    fn publish(&self, version: u64) -> Result<(), EngineError> {
        use std::io::Write;
        let temp = self.root.join(LIVE_TEMP);
        fs::File::create(&temp)
            .and_then(|mut file| {
                file.write_all(format!("{version}\n").as_bytes())?;
                file.sync_all()
            })
            .map_err(io_error(format!("cannot write {}", temp.display())))?;
        fs::rename(&temp, self.root.join(LIVE_FILE)).map_err(io_error(format!(
            "cannot replace {}",
            self.root.join(LIVE_FILE).display()
        )))?;
        fs::File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(format!("cannot sync {}", self.root.display())))
    }

    /// Removes a version's files; failures are logged (the next open retries).
    fn remove(&self, version: u64) {
        let result = if version == 0 {
            self.remove_legacy_files()
        } else {
            fs::remove_dir_all(self.path(version))
        };
        if let Err(error) = result
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(root = %self.root.display(), version, %error, "cannot remove a retired version; the next start removes it");
        }
    }

    fn remove_legacy_files(&self) -> std::io::Result<()> {
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == LIVE_FILE || name == LIVE_TEMP {
                continue;
            }
            let path = entry.path();
            if version_of(&name).is_some() && path.is_dir() {
                continue;
            }
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
}

/// Removes a version's directory once the version is retired and its last handle is gone.
struct Retirement {
    dirs: Option<Arc<VersionDirs>>,
    version: u64,
    retired: AtomicBool,
}

impl Drop for Retirement {
    fn drop(&mut self) {
        if self.retired.load(Ordering::Acquire)
            && let Some(dirs) = &self.dirs
        {
            dirs.remove(self.version);
        }
    }
}

/// One version of a collection. `value` is declared first so it is dropped (files closed,
/// writer threads joined) before the directory is removed.
pub(crate) struct VersionHandle<T> {
    value: T,
    retirement: Retirement,
}

impl<T> VersionHandle<T> {
    pub(crate) fn version(&self) -> u64 {
        self.retirement.version
    }

    fn retire(&self) {
        self.retirement.retired.store(true, Ordering::Release);
    }
}

impl<T> Deref for VersionHandle<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

type Opener<T> = Box<dyn Fn(Option<&Path>) -> Result<T, EngineError> + Send + Sync>;

/// The live version of a collection and at most one staged version.
pub(crate) struct Versioned<T> {
    collection: Collection,
    dirs: Option<Arc<VersionDirs>>,
    open: Opener<T>,
    live: RwLock<Arc<VersionHandle<T>>>,
    staged: Mutex<Option<Arc<VersionHandle<T>>>>,
    next_version: AtomicU64,
}

impl<T> Versioned<T> {
    /// Opens the live version under `root` (or in memory when `root` is `None`) with `open`,
    /// which also creates every later version (given its empty directory, or `None`).
    pub(crate) fn open(
        collection: Collection,
        root: Option<&Path>,
        open: impl Fn(Option<&Path>) -> Result<T, EngineError> + Send + Sync + 'static,
    ) -> Result<Versioned<T>, EngineError> {
        let (dirs, live_version) = match root {
            Some(root) => {
                let (dirs, live) = VersionDirs::open(root)?;
                (Some(Arc::new(dirs)), live)
            }
            None => (None, 1),
        };
        let path = dirs.as_ref().map(|dirs| dirs.path(live_version));
        let value = open(path.as_deref())?;
        let live = Arc::new(VersionHandle {
            value,
            retirement: Retirement {
                dirs: dirs.clone(),
                version: live_version,
                retired: AtomicBool::new(false),
            },
        });
        Ok(Versioned {
            collection,
            dirs,
            open: Box::new(open),
            live: RwLock::new(live),
            staged: Mutex::new(None),
            next_version: AtomicU64::new(live_version + 1),
        })
    }

    /// The live version, for a search: the caller keeps it for as long as it reads.
    pub(crate) fn live(&self) -> Result<Arc<VersionHandle<T>>, EngineError> {
        Ok(Arc::clone(&*self.live.read().map_err(|_| poisoned())?))
    }

    /// The live version held against a commit, for a write (see the module docs).
    pub(crate) fn live_for_write(
        &self,
    ) -> Result<RwLockReadGuard<'_, Arc<VersionHandle<T>>>, EngineError> {
        self.live.read().map_err(|_| poisoned())
    }

    pub(crate) fn staged(&self, version: u64) -> Result<Arc<VersionHandle<T>>, EngineError> {
        let staged = self.staged.lock().map_err(|_| poisoned())?;
        match &*staged {
            Some(handle) if handle.version() == version => Ok(Arc::clone(handle)),
            _ => Err(EngineError::unknown_version(self.collection, version)),
        }
    }

    /// Creates an empty staged version, retiring any earlier one, and returns its number.
    pub(crate) fn begin(&self) -> Result<u64, EngineError> {
        let mut staged = self.staged.lock().map_err(|_| poisoned())?;
        if let Some(abandoned) = staged.take() {
            tracing::warn!(
                collection = self.collection.as_str(),
                version = abandoned.version(),
                "a staged version was abandoned by a new reindex; dropped"
            );
            abandoned.retire();
        }
        let version = self.next_version.fetch_add(1, Ordering::SeqCst);
        let path = match &self.dirs {
            Some(dirs) => Some(dirs.prepare(version)?),
            None => None,
        };
        let value = match (self.open)(path.as_deref()) {
            Ok(value) => value,
            Err(error) => {
                if let Some(dirs) = &self.dirs {
                    dirs.remove(version);
                }
                return Err(error);
            }
        };
        *staged = Some(Arc::new(VersionHandle {
            value,
            retirement: Retirement {
                dirs: self.dirs.clone(),
                version,
                retired: AtomicBool::new(false),
            },
        }));
        Ok(version)
    }

    /// Makes staged `version` live: `prepare` runs on it first (e.g. a snapshot), then `LIVE`
    /// is replaced and the in-memory handle swapped; the old version is retired.
    pub(crate) fn commit(
        &self,
        version: u64,
        prepare: impl FnOnce(&T) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let mut staged = self.staged.lock().map_err(|_| poisoned())?;
        let handle = match &*staged {
            Some(handle) if handle.version() == version => Arc::clone(handle),
            _ => return Err(EngineError::unknown_version(self.collection, version)),
        };
        prepare(&handle)?;
        if let Some(dirs) = &self.dirs {
            dirs.publish(version)?;
        }
        let old = {
            let mut live = self.live.write().map_err(|_| poisoned())?;
            std::mem::replace(&mut *live, handle)
        };
        *staged = None;
        old.retire();
        Ok(())
    }

    /// Drops staged `version` (nothing happens when it is not the staged one).
    pub(crate) fn abort(&self, version: u64) -> Result<(), EngineError> {
        let mut staged = self.staged.lock().map_err(|_| poisoned())?;
        if staged.as_ref().is_some_and(|h| h.version() == version)
            && let Some(handle) = staged.take()
        {
            handle.retire();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: Option<&Path>) -> Result<String, EngineError> {
        let path = path.expect("on disk");
        Ok(fs::read_to_string(path.join("data")).unwrap_or_default())
    }

    fn write(handle: &VersionHandle<String>, dirs: &Path, text: &str) {
        let path = dirs.join(format!("v{}", handle.version()));
        fs::write(path.join("data"), text).expect("write");
    }

    #[test]
    fn a_commit_swaps_the_live_version_and_survives_a_reopen() {
        let root = tempfile::tempdir().expect("tempdir");
        let versions = Versioned::open(Collection::Jobs, Some(root.path()), read).expect("open");
        let first = versions.live().expect("live");
        assert_eq!(first.version(), 1);
        write(&first, root.path(), "old");

        let staged = versions.begin().expect("begin");
        assert_eq!(staged, 2);
        write(&versions.staged(2).expect("staged"), root.path(), "new");
        // Searches still read version 1 until the commit.
        assert_eq!(versions.live().unwrap().version(), 1);
        versions.commit(2, |_| Ok(())).expect("commit");
        assert_eq!(versions.live().unwrap().version(), 2);
        // A search that held version 1 keeps its files until it lets go.
        assert!(root.path().join("v1").exists());
        drop(first);
        assert!(!root.path().join("v1").exists(), "retired version removed");
        assert!(versions.staged(2).is_err(), "committed: no longer staged");
        drop(versions);

        let reopened = Versioned::open(Collection::Jobs, Some(root.path()), read).expect("reopen");
        let live = reopened.live().unwrap();
        assert_eq!((live.version(), live.as_str()), (2, "new"));
        assert_eq!(reopened.begin().expect("begin"), 3);
    }

    #[test]
    fn a_staged_version_left_by_a_crash_is_removed_at_open_and_by_the_next_begin() {
        let root = tempfile::tempdir().expect("tempdir");
        let versions = Versioned::open(Collection::Jobs, Some(root.path()), read).expect("open");
        assert_eq!(versions.begin().unwrap(), 2);
        // A crash: nothing committed, nothing dropped cleanly.
        std::mem::forget(versions);
        assert!(root.path().join("v2").exists());
        let reopened = Versioned::open(Collection::Jobs, Some(root.path()), read).expect("reopen");
        assert_eq!(reopened.live().unwrap().version(), 1);
        assert!(
            !root.path().join("v2").exists(),
            "the unfinished reindex is gone"
        );

        assert_eq!(reopened.begin().unwrap(), 2);
        assert_eq!(
            reopened.begin().unwrap(),
            3,
            "a new begin abandons the staged one"
        );
        assert!(!root.path().join("v2").exists());
        assert!(reopened.staged(2).is_err());
        reopened.abort(3).unwrap();
        assert!(!root.path().join("v3").exists());
        assert!(
            reopened.commit(3, |_| Ok(())).is_err(),
            "aborted: cannot commit"
        );
    }

    #[test]
    fn files_from_before_versions_are_version_zero_until_replaced() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(root.path().join("data"), "legacy").unwrap();
        let versions = Versioned::open(Collection::Resumes, Some(root.path()), read).expect("open");
        assert_eq!(versions.live().unwrap().version(), 0);
        assert_eq!(versions.live().unwrap().as_str(), "legacy");
        let staged = versions.begin().unwrap();
        assert_eq!(staged, 1);
        versions.commit(1, |_| Ok(())).unwrap();
        assert!(!root.path().join("data").exists(), "legacy files removed");
        assert!(root.path().join("v1").is_dir());
        assert_eq!(
            fs::read_to_string(root.path().join(LIVE_FILE))
                .unwrap()
                .trim(),
            "1"
        );
    }
}
