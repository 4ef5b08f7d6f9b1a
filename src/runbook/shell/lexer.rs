//! The character-level lexer behind [`super::parse`]: quotes, escapes, expansions, operators,
//! redirections, heredoc bodies, comments, and the `for`/`if`/`case` words that open a
//! compound command (so that an unfinished one asks for the next line).

use super::{Op, Open, Word};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Word(Word),
    Op(Op),
    /// `2>/dev/null`, `> out.txt`, `<<EOF`: the operator, with its target word if any.
    Redirect(String),
}

/// The tokens of `text` and its comments, or why it is not whole yet.
pub(super) fn tokens(text: &str) -> Result<(Vec<Token>, Vec<String>), Open> {
    let mut lexer = Lexer { chars: text.chars().collect(), i: 0, comments: Vec::new(), depth: Vec::new() };
    let tokens = lexer.tokens()?;
    Ok((tokens, lexer.comments))
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
