//! A small lexer for the shell lines runbooks show: words with their quotes removed, the
//! operators between them, redirections and comments. It runs and expands nothing; it says what
//! a shell would see, so that a runbook line can be compared word for word with an action's
//! form, shell constructs (loops, `&&`, `> file`, globs) told apart from plain commands, and a
//! command that goes on over several lines (an open quote, a trailing `\` or `|`, a heredoc, a
//! `for ... done`) read as one.

mod lexer;

use lexer::Token;

/// One word as the program would receive it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// Quotes removed and escapes resolved; expansions (`$PAGE_ID`, `$(date)`) kept as written.
    pub text: String,
    /// Part of it is a `$`/backtick expansion a shell would replace.
    pub expands: bool,
    /// An unquoted `*` or brace expansion (`{1..10}`) a shell would expand.
    pub glob: bool,
}

/// What joins two pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Pipe,
    And,
    Or,
    Semi,
    Background,
    Newline,
}

/// Why a text is not a whole command yet: the next line continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Open {
    Quote(char),
    Escape,
    Heredoc(String),
    Operator,
    Compound(String),
    Substitution,
}

impl std::fmt::Display for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Open::Quote(q) => write!(f, "its {q} quote is never closed"),
            Open::Escape => write!(f, "it ends with a `\\` and nothing follows"),
            Open::Heredoc(d) => write!(f, "its heredoc never reaches its `{d}` line"),
            Open::Operator => write!(f, "it ends with an operator (`|`, `&&`, `||`) and nothing follows"),
            Open::Compound(w) => write!(f, "its `{w}` is never closed (`done`, `fi`, `esac`)"),
            Open::Substitution => write!(f, "its `$(` is never closed"),
        }
    }
}

/// One program and its arguments, as one stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stage {
    pub words: Vec<Word>,
    pub redirects: Vec<String>,
}

/// A command line, lexed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Pipelines, each a list of stages, in order.
    pub pipelines: Vec<Vec<Stage>>,
    /// The operators between the pipelines (`&&`, `||`, `;`, `&`, a newline).
    pub joins: Vec<Op>,
    /// A loop or conditional (`for ... done`, `if ... fi`).
    pub compound: bool,
    /// `# comments` outside quotes, without the `#`.
    pub comments: Vec<String>,
}

impl Script {
    /// The only pipeline, when the line is one (no `&&`, `;`, loop).
    pub fn single(&self) -> Option<&[Stage]> {
        match (self.pipelines.as_slice(), self.compound) {
            ([only], false) => Some(only),
            _ => None,
        }
    }
}

/// `word` written so that [`parse`] reads it back as it is.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,{}-".contains(c));
    let placeholder = word.starts_with('<')
        && word.ends_with('>')
        && word[1..word.len() - 1].chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if plain || placeholder {
        word.to_string()
    } else if !word.contains('\'') {
        format!("'{word}'")
    } else {
        let escaped: String =
            word.chars().flat_map(|c| if "\"\\$`".contains(c) { vec!['\\', c] } else { vec![c] }).collect();
        format!("\"{escaped}\"")
    }
}

/// Words as one line for a message: quoted as needed, runs of white space (a multi-line
/// argument's newlines) as one space.
pub fn display(words: &[String]) -> String {
    let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
    line.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lexes `text`, or says why it is not whole yet.
pub fn parse(text: &str) -> Result<Script, Open> {
    let (tokens, comments) = lexer::tokens(text)?;
    let mut script = Script { comments, ..Script::default() };
    let mut pipeline: Vec<Stage> = Vec::new();
    let mut stage = Stage::default();
    for token in tokens {
        match token {
            Token::Word(w) => {
                if stage.words.is_empty() && pipeline.is_empty() && is_reserved(&w.text) {
                    script.compound = true;
                }
                stage.words.push(w);
            }
            Token::Redirect(r) => stage.redirects.push(r),
            Token::Op(Op::Pipe) => pipeline.push(std::mem::take(&mut stage)),
            Token::Op(op) => {
                if !stage.words.is_empty() || !stage.redirects.is_empty() {
                    pipeline.push(std::mem::take(&mut stage));
                }
                if !pipeline.is_empty() {
                    script.pipelines.push(std::mem::take(&mut pipeline));
                    script.joins.push(op);
                }
            }
        }
    }
    if !stage.words.is_empty() || !stage.redirects.is_empty() {
        pipeline.push(stage);
    }
    if !pipeline.is_empty() {
        script.pipelines.push(pipeline);
    }
    // A trailing `;` or newline joins nothing.
    script.joins.truncate(script.pipelines.len().saturating_sub(1));
    Ok(script)
}

fn is_reserved(word: &str) -> bool {
    matches!(word, "for" | "while" | "until" | "if" | "case" | "select" | "{" | "(")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let script = parse(text).unwrap();
        script.pipelines.iter().flatten().flat_map(|s| s.words.iter().map(|w| w.text.clone())).collect()
    }

    #[test]
    fn quotes_are_removed_and_keep_their_spaces() {
        assert_eq!(
            words(r#"journalctl -u x --since "1 hour ago" --format='{{.State.ExitCode}}'"#),
            ["journalctl", "-u", "x", "--since", "1 hour ago", "--format={{.State.ExitCode}}"]
        );
        assert_eq!(words(r#"echo "a \"b\" \$c" 'd\e'"#), ["echo", "a \"b\" $c", "d\\e"]);
    }

    #[test]
    fn a_pipeline_is_stages_and_a_list_is_pipelines() {
        let script = parse("curl -s http://x | jq . | head").unwrap();
        assert_eq!(script.single().unwrap().len(), 3);
        let list = parse("kubectl rollout history d 2>/dev/null || \\\n  docker inspect d").unwrap();
        assert_eq!(list.pipelines.len(), 2);
        assert_eq!(list.joins, [Op::Or]);
        assert_eq!(list.pipelines[0][0].redirects, ["2>/dev/null"]);
        assert!(list.single().is_none());
    }

    #[test]
    fn placeholders_in_angle_brackets_are_words_not_redirections() {
        let script = parse("kubectl logs -n ns <pod-name> --tail=100 > /tmp/out").unwrap();
        let stage = &script.single().unwrap()[0];
        assert_eq!(stage.words[4].text, "<pod-name>");
        assert_eq!(stage.redirects, [">/tmp/out"]);
        assert_eq!(words("cat /proc/<pid>/maps"), ["cat", "/proc/<pid>/maps"]);
    }

    #[test]
    fn an_unfinished_command_says_what_is_open() {
        assert_eq!(parse("docker exec b python -c \"\nfrom x import y\n"), Err(Open::Quote('"')));
        assert_eq!(parse("curl -X POST http://x \\"), Err(Open::Escape));
        assert_eq!(parse("for i in {1..10}; do\n  curl x\n"), Err(Open::Compound("for".into())));
        assert_eq!(parse("cat <<EOF\nhello\n"), Err(Open::Heredoc("EOF".into())));
        assert_eq!(parse("journalctl -u x |"), Err(Open::Operator));
        assert_eq!(parse("mkdir /tmp/incident-$(date +%Y"), Err(Open::Substitution));
    }

    #[test]
    fn whole_multi_line_commands_lex() {
        let quoted = parse("docker exec b python -c \"\nprint('x')\n\"").unwrap();
        assert_eq!(quoted.single().unwrap()[0].words[5].text, "\nprint('x')\n");
        let continued = parse("curl -X POST http://x \\\n  -H \"A: b\" \\\n  -d '{}'").unwrap();
        assert_eq!(continued.single().unwrap()[0].words.len(), 8);
        let looped = parse("for i in {1..10}; do\n  curl -w \"%{time_total}\\n\" x\ndone").unwrap();
        assert!(looped.compound);
        let heredoc = parse("cat <<'EOF' > /tmp/x\nline $HOME\nEOF").unwrap();
        assert_eq!(heredoc.pipelines[0][0].redirects, ["<<EOF", ">/tmp/x"]);
    }

    #[test]
    fn expansions_globs_and_comments_are_marked() {
        let script = parse("ls /var/log/* $HOME \"${X}\" $(date +%s) {1..3} {job} # trailing note").unwrap();
        let stage = &script.single().unwrap()[0];
        let flags: Vec<(bool, bool)> = stage.words.iter().map(|w| (w.expands, w.glob)).collect();
        assert_eq!(
            flags,
            [(false, false), (false, true), (true, false), (true, false), (true, false), (false, true), (false, false)]
        );
        assert_eq!(stage.words[4].text, "$(date +%s)");
        assert_eq!(script.comments, ["trailing note"]);
        assert_eq!(words("echo $?  # Should return 0"), ["echo", "$?"]);
    }
}
