//! An error and its causes as one line: how every room's errors are shown to people.

/// One line: an error and each of its causes, joined by ": ". Every room's errors are shown
/// this way (the text form of an error chain).
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors repeat their cause in their own message: don't say it twice.
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_the_cause_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("could not listen on 127.0.0.1:1")]
        struct Outer(#[source] std::io::Error);
        let err = Outer(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "denied",
        ));
        assert_eq!(one_line(&err), "could not listen on 127.0.0.1:1: denied");
    }
}
