//! D1, OP1: files and directories that hold secrets or data are the service account's alone.
//! Production refuses one that its group or others may use; development repairs what it made.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::bail;

/// OP1: refuses `path` when group or others have any access to it (`chmod` hint in the error).
pub fn refuse_shared(path: &Path, what: &str) -> anyhow::Result<()> {
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        let fix = if std::fs::metadata(path)?.is_dir() { "700" } else { "600" };
        bail!("{what} {} is accessible to group or others (mode {:o}); chmod {fix} it", path.display(), mode & 0o777);
    }
    Ok(())
}

/// Removes group and other access from `path` (a file or directory Gatehouse created).
pub fn make_private(path: &Path) -> anyhow::Result<()> {
    let mut perms = std::fs::metadata(path)?.permissions();
    let mode = perms.mode();
    if mode & 0o077 != 0 {
        perms.set_mode(mode & !0o077);
        std::fs::set_permissions(path, perms)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shared_paths_are_refused_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.pem");
        std::fs::write(&file, "secret").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = refuse_shared(&file, "TLS private key").unwrap_err().to_string();
        assert!(e.contains("TLS private key") && e.contains("mode 644") && e.contains("chmod 600"), "{e}");
        make_private(&file).unwrap();
        refuse_shared(&file, "TLS private key").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(refuse_shared(dir.path(), "data directory").unwrap_err().to_string().contains("chmod 700"));
    }
}
