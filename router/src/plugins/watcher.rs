//! Reload on change: watches the plugins directory and plugins.toml (debounced) and reloads the
//! host on its own thread, off the request path.
use super::host::PluginHost;
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {source}")]
    Watch { path: String, source: notify::Error },
}

/// Keeps the watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
}

/// Whether a changed path can change the chain: a .wasm in the plugins directory or the
/// plugins.toml itself (editors write temporary files next to it; those are ignored).
fn relevant(path: &Path, dir: &Path, toml: &Path) -> bool {
    let name = path.file_name();
    if name.is_some() && name == toml.file_name() && path.parent() == absolute(toml).parent() {
        return true;
    }
    path.parent() == Some(dir) && path.extension().is_some_and(|e| e == "wasm")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Starts watching. The plugins directory is created when missing, so plugins can be dropped in
/// later.
pub fn watch(host: Arc<PluginHost>, debounce: Duration) -> Result<Watcher, WatchError> {
    let (dir, toml) = host.watched_paths();
    let dir = absolute(&dir);
    let toml = absolute(&toml);
    let toml_dir = toml
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let _ = std::fs::create_dir_all(&dir);
    let (watched_dir, watched_toml) = (dir.clone(), toml.clone());
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let changed = events
            .iter()
            .flat_map(|e| e.paths.iter())
            .any(|p| relevant(p, &watched_dir, &watched_toml));
        if changed {
            // An error is logged, counted and shown by the host; the old chain stays.
            let _ = host.reload();
        }
    })
    .map_err(|source| WatchError::Watch {
        path: dir.display().to_string(),
        source,
    })?;
    for path in [&dir, &toml_dir] {
        debouncer
            .watch(path, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Watch {
                path: path.display().to_string(),
                source,
            })?;
    }
    Ok(Watcher {
        _debouncer: debouncer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wasm_files_and_the_toml_count() {
        let dir = Path::new("/srv/plugins");
        let toml = Path::new("/etc/slog/plugins.toml");
        assert!(relevant(Path::new("/srv/plugins/a.wasm"), dir, toml));
        assert!(relevant(Path::new("/etc/slog/plugins.toml"), dir, toml));
        assert!(!relevant(Path::new("/srv/plugins/.a.wasm.tmp"), dir, toml));
        assert!(!relevant(Path::new("/etc/slog/plugins.toml~"), dir, toml));
        assert!(!relevant(Path::new("/etc/slog/slog.toml"), dir, toml));
    }
}
