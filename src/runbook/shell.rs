//! A small lexer for the shell lines runbooks show: words with their quotes removed, the
//! operators between them, redirections and comments. It runs and expands nothing; it says what
//! a shell would see, so that a runbook line can be compared word for word with an action's
//! form, shell constructs (loops, `&&`, `> file`, globs) told apart from plain commands, and a
//! command that goes on over several lines (an open quote, a trailing `\` or `|`, a heredoc, a
//! `for ... done`) read as one.

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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Op(Op),
    /// `2>/dev/null`, `> out.txt`, `<<EOF`: the operator, with its target word if any.
    Redirect(String),
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
    let mut lexer = Lexer { chars: text.chars().collect(), i: 0, comments: Vec::new(), depth: Vec::new() };
    let tokens = lexer.tokens()?;
    let mut script = Script { comments: lexer.comments, ..Script::default() };
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

struct Lexer {
    chars: Vec<char>,
    i: usize,
    comments: Vec<String>,
    /// Open `for`/`if`/`case` words, innermost last.
    depth: Vec<String>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn tokens(&mut self) -> Result<Vec<Token>, Open> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut heredocs: Vec<(String, bool)> = Vec::new();
        let mut at_start = true;
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek(1) == Some('\n') => self.i += 2,
                '\n' => {
                    self.i += 1;
                    for (delimiter, strip) in std::mem::take(&mut heredocs) {
                        self.heredoc_body(&delimiter, strip)?;
                    }
                    tokens.push(Token::Op(Op::Newline));
                    at_start = true;
                }
                '#' => {
                    let start = self.i + 1;
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                    self.comments.push(self.chars[start..self.i].iter().collect::<String>().trim().to_string());
                }
                '|' | '&' | ';' => {
                    let two = self.peek(1);
                    let (op, len) = match (c, two) {
                        ('|', Some('|')) => (Op::Or, 2),
                        ('|', Some('&')) => (Op::Pipe, 2),
                        ('|', _) => (Op::Pipe, 1),
                        ('&', Some('&')) => (Op::And, 2),
                        ('&', Some('>')) => {
                            tokens.push(Token::Redirect(self.redirect()?));
                            continue;
                        }
                        ('&', _) => (Op::Background, 1),
                        (_, Some(';')) => (Op::Semi, 2),
                        _ => (Op::Semi, 1),
                    };
                    self.i += len;
                    tokens.push(Token::Op(op));
                    at_start = true;
                }
                '<' | '>' if !self.placeholder_at(self.i) => {
                    if c == '<' && self.peek(1) == Some('<') && self.peek(2) != Some('<') {
                        let strip = self.peek(2) == Some('-');
                        self.i += if strip { 3 } else { 2 };
                        self.skip_blanks();
                        let delimiter = self.word()?.text;
                        tokens.push(Token::Redirect(format!("<<{delimiter}")));
                        heredocs.push((delimiter, strip));
                    } else {
                        tokens.push(Token::Redirect(self.redirect()?));
                    }
                }
                d if d.is_ascii_digit() && self.fd_redirect() => tokens.push(Token::Redirect(self.redirect()?)),
                _ => {
                    let word = self.word()?;
                    if at_start {
                        self.track_compound(&word.text);
                    }
                    at_start = matches!(word.text.as_str(), "do" | "then" | "else" | "elif" | "!" | "time")
                        || (at_start && word.text.contains('=') && !word.text.starts_with('='));
                    tokens.push(Token::Word(word));
                }
            }
        }
        if let Some((delimiter, _)) = heredocs.into_iter().next() {
            return Err(Open::Heredoc(delimiter));
        }
        if let Some(open) = self.depth.last() {
            return Err(Open::Compound(open.clone()));
        }
        let last = tokens.iter().rev().find(|t| !matches!(t, Token::Op(Op::Newline)));
        if matches!(last, Some(Token::Op(Op::Pipe | Op::And | Op::Or))) {
            return Err(Open::Operator);
        }
        Ok(tokens)
    }

    fn track_compound(&mut self, word: &str) {
        match word {
            "for" | "while" | "until" | "select" => self.depth.push(word.to_string()),
            "if" | "case" => self.depth.push(word.to_string()),
            "done" | "fi" | "esac" => {
                self.depth.pop();
            }
            _ => {}
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(0), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    /// `2>` and friends: digits straight before `>` or `<` at a word's start.
    fn fd_redirect(&self) -> bool {
        let mut j = self.i;
        while self.chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        matches!(self.chars.get(j), Some('>' | '<'))
    }

    /// A redirection operator and its target, as written (`2>/dev/null`, `>> log`, `2>&1`).
    fn redirect(&mut self) -> Result<String, Open> {
        let mut op = String::new();
        while let Some(c) = self.peek(0).filter(|c| c.is_ascii_digit() || "<>&|".contains(*c)) {
            op.push(c);
            self.i += 1;
            if op.ends_with('&') && self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
                op.push(self.chars[self.i]);
                self.i += 1;
                return Ok(op);
            }
        }
        self.skip_blanks();
        match self.peek(0) {
            Some(c) if !"\n|&;".contains(c) => Ok(format!("{op}{}", self.word()?.text)),
            _ => Ok(op),
        }
    }

    /// Whether a `<name>` placeholder starts at `at` (runbooks write `<pod-name>`, never a
    /// redirection from a file called `pod-name>`).
    fn placeholder_at(&self, at: usize) -> bool {
        if self.chars.get(at) != Some(&'<') || !self.chars.get(at + 1).is_some_and(char::is_ascii_alphabetic) {
            return false;
        }
        let mut j = at + 1;
        while self.chars.get(j).is_some_and(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c)) {
            j += 1;
        }
        self.chars.get(j) == Some(&'>')
    }

    fn word(&mut self) -> Result<Word, Open> {
        let mut word = Word::default();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | '\r' | '|' | '&' | ';' => break,
                '<' if self.placeholder_at(self.i) => {
                    while let Some(c) = self.peek(0) {
                        word.text.push(c);
                        self.i += 1;
                        if c == '>' {
                            break;
                        }
                    }
                }
                '<' | '>' => break,
                '\'' => {
                    self.i += 1;
                    loop {
                        match self.peek(0) {
                            None => return Err(Open::Quote('\'')),
                            Some('\'') => break,
                            Some(c) => word.text.push(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '"' => {
                    self.i += 1;
                    loop {
                        match self.peek(0) {
                            None => return Err(Open::Quote('"')),
                            Some('"') => break,
                            Some('\\') if self.peek(1).is_some_and(|c| "\"\\$`\n".contains(c)) => {
                                if self.peek(1) != Some('\n') {
                                    word.text.push(self.chars[self.i + 1]);
                                }
                                self.i += 2;
                                continue;
                            }
                            Some('$' | '`') => {
                                word.expands |= self.expansion(&mut word.text)?;
                                continue;
                            }
                            Some(c) => word.text.push(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '\\' => match self.peek(1) {
                    None => return Err(Open::Escape),
                    Some('\n') => self.i += 2,
                    Some(next) => {
                        word.text.push(next);
                        self.i += 2;
                    }
                },
                '$' | '`' => word.expands |= self.expansion(&mut word.text)?,
                '*' => {
                    word.glob = true;
                    word.text.push(c);
                    self.i += 1;
                }
                '{' => {
                    word.glob |= self.brace_expansion();
                    word.text.push(c);
                    self.i += 1;
                }
                _ => {
                    word.text.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(word)
    }

    /// `{a,b}` or `{1..10}` starting here (not `{{.State.ExitCode}}` or `{job}`).
    fn brace_expansion(&self) -> bool {
        let rest: String = self.chars[self.i + 1..].iter().take_while(|c| !" \t\n}{".contains(**c)).collect();
        self.chars.get(self.i + 1 + rest.chars().count()) == Some(&'}') && (rest.contains("..") || rest.contains(','))
    }

    /// Copies a `$NAME`, `${...}`, `$(...)` or backtick expansion as written; true when it is
    /// one (a lone `$` is text).
    fn expansion(&mut self, out: &mut String) -> Result<bool, Open> {
        let start = self.i;
        let (open, close) = match (self.peek(0), self.peek(1)) {
            (Some('`'), _) => ('`', '`'),
            (Some('$'), Some('(')) => ('(', ')'),
            (Some('$'), Some('{')) => ('{', '}'),
            (Some('$'), Some(c)) if c.is_ascii_alphanumeric() || "_?#@*!$-".contains(c) => {
                self.i += 2;
                if c.is_ascii_alphabetic() || c == '_' {
                    while self.peek(0).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        self.i += 1;
                    }
                }
                out.extend(&self.chars[start..self.i]);
                return Ok(true);
            }
            _ => {
                out.push('$');
                self.i += 1;
                return Ok(false);
            }
        };
        self.i += if open == '`' { 1 } else { 2 };
        let mut depth = 1;
        let mut quote: Option<char> = None;
        while depth > 0 {
            let Some(c) = self.peek(0) else { return Err(Open::Substitution) };
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if open != '`' => quote = Some(c),
                (None, c) if c == close => depth -= 1,
                (None, c) if c == open && open != '`' => depth += 1,
                _ => {}
            }
            self.i += 1;
        }
        out.extend(&self.chars[start..self.i]);
        Ok(true)
    }

    fn heredoc_body(&mut self, delimiter: &str, strip_tabs: bool) -> Result<(), Open> {
        loop {
            if self.i >= self.chars.len() {
                return Err(Open::Heredoc(delimiter.to_string()));
            }
            let start = self.i;
            while self.peek(0).is_some_and(|c| c != '\n') {
                self.i += 1;
            }
            let line: String = self.chars[start..self.i].iter().collect();
            self.i = (self.i + 1).min(self.chars.len());
            let line = if strip_tabs { line.trim_start_matches('\t') } else { line.as_str() };
            if line.trim_end() == delimiter {
                return Ok(());
            }
        }
    }
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
