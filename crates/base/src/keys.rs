//! Locust's keys in a terminal run: `w`/`W` add 1/10 users, `s`/`S` remove 1/10. Stdin is
//! read key by key (no line editing, no echo; Ctrl-C still signals) while the run goes, and
//! the terminal is put back as it was when the reader is dropped.

use tokio::sync::mpsc;

/// How a key changes the users' target: +1, +10, -1, -10.
pub fn users_delta(key: u8) -> Option<i64> {
    match key {
        b'w' => Some(1),
        b'W' => Some(10),
        b's' => Some(-1),
        b'S' => Some(-10),
        _ => None,
    }
}

/// The keys pressed, as changes of the users' target.
pub struct UserKeys {
    rx: mpsc::UnboundedReceiver<i64>,
    #[cfg(unix)]
    saved: libc::termios,
}

impl UserKeys {
    /// Reads stdin when it is a terminal (None otherwise: nothing is read).
    #[cfg(unix)]
    pub fn start() -> Option<Self> {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return None;
        }
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own; no memory is shared.
        let saved = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !(libc::ICANON | libc::ECHO);
            t.c_cc[libc::VMIN] = 1;
            t.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return None;
            }
            saved
        };
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut byte = [0u8; 1];
            let mut stdin = std::io::stdin();
            while let Ok(1) = stdin.read(&mut byte) {
                if let Some(delta) = users_delta(byte[0])
                    && tx.send(delta).is_err()
                {
                    break;
                }
            }
        });
        Some(Self { rx, saved })
    }

    #[cfg(not(unix))]
    pub fn start() -> Option<Self> {
        None
    }

    /// The next change; None once stdin closed.
    pub async fn next(&mut self) -> Option<i64> {
        self.rx.recv().await
    }
}

#[cfg(unix)]
impl Drop for UserKeys {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `start` on fd 0.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn locusts_keys() {
        let d: Vec<_> = b"wWsSx".iter().map(|k| super::users_delta(*k)).collect();
        assert_eq!(d, vec![Some(1), Some(10), Some(-1), Some(-10), None]);
    }
}
