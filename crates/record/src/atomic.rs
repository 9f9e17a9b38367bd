//! Result files that appear whole or not at all: the one way iris-lab writes a file (records,
//! CSV, reports).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::WriteError;

/// Writes `path` through `write`, atomically and durably: a temp file in the same directory,
/// flushed and fsynced, made an ordinary file (0644), renamed over `path`, then the directory
/// fsynced so the rename survives a crash. If `write` or any step fails, the temp file is
/// removed and whatever was at `path` before is left as it was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let steps = || -> io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = BufWriter::new(tmp.as_file_mut());
            write(&mut out)?;
            out.flush()?;
        }
        tmp.as_file().sync_all()?;
        make_readable(tmp.as_file())?;
        tmp.persist(path).map_err(|e| e.error)?;
        sync_dir(dir)
    };
    steps().map_err(|e| WriteError::new(path.display().to_string(), e))
}

/// Temp files are created private (0600); results are ordinary files: 0644, set explicitly,
/// so the umask does not narrow it.
fn make_readable(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let _ = file;
    Ok(())
}

/// Makes a rename in `dir` durable (a no-op where directories cannot be opened as files).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_write_lands_whole_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomically(&p, |w| w.write_all(b"hello\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello\n");
        assert_eq!(names(dir.path()), ["out.txt"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn a_write_that_fails_half_way_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let half = |w: &mut dyn Write| {
            // More than BufWriter holds, so part of it reaches the temp file.
            w.write_all(&vec![b'x'; 64 * 1024])?;
            Err(io::Error::other("disk on fire"))
        };
        let e = iris_base::chain::one_line(&write_atomically(&p, half).unwrap_err());
        assert!(e.contains("out.txt") && e.contains("disk on fire"), "{e}");
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

        // An earlier file stays as it was.
        std::fs::write(&p, "before").unwrap();
        assert!(write_atomically(&p, half).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "before");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/out.txt");
        let e =
            iris_base::chain::one_line(&write_atomically(&p, |w| w.write_all(b"x")).unwrap_err());
        assert!(e.contains("out.txt"), "{e}");
        assert!(!p.exists());
    }
}
