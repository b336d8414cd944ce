//! Regular expressions as SQLite `GLOB` patterns, for the subset GLOB can express.

/// A (validated) regex as a SQLite GLOB pattern, or `None` when GLOB cannot express it.
/// With `lower`, the pattern is ASCII-lowercased for `lower(x) GLOB pattern`.
pub(super) fn glob(pattern: &str, lower: bool, multi_line: bool, extended: bool) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut end = chars.len();
    let start_anchor = chars.first() == Some(&'^');
    let escaped = |at: usize| chars[..at].iter().rev().take_while(|&&c| c == '\\').count() % 2 == 1;
    let end_anchor = end > usize::from(start_anchor) && chars[end - 1] == '$' && !escaped(end - 1);
    if end_anchor {
        end -= 1;
    }
    if multi_line && (start_anchor || end_anchor) {
        return None;
    }
    let mut out = String::from(if start_anchor { "" } else { "*" });
    let mut i = usize::from(start_anchor);
    while i < end {
        let c = chars[i];
        i += 1;
        let atom = match c {
            c if extended && c.is_whitespace() => continue,
            '#' if extended => {
                while i < end && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '.' => "?".to_owned(),
            '[' => glob_class(&chars, &mut i, end, lower)?,
            '\\' => {
                let e = *chars[..end].get(i)?;
                i += 1;
                match shorthand(e) {
                    Some(items) => class_text(false, &items, lower)?,
                    None => glob_literal(escape_char(e)?, lower)?,
                }
            }
            '^' | '$' | '(' | ')' | '|' | '*' | '+' | '?' | '{' => return None,
            c => glob_literal(c, lower)?,
        };
        let quantifier = chars[..end].get(i).copied();
        match quantifier {
            Some('*' | '+') if atom == "?" => {
                out.push_str(if quantifier == Some('*') { "*" } else { "?*" });
                i += 1;
                if chars[..end].get(i) == Some(&'?') {
                    i += 1;
                }
            }
            Some('*' | '+' | '?' | '{') => return None,
            _ => out.push_str(&atom),
        }
    }
    if !end_anchor {
        out.push('*');
    }
    while out.contains("**") {
        out = out.replace("**", "*");
    }
    Some(out)
}

fn escape_char(e: char) -> Option<char> {
    match e {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        c if !c.is_ascii_alphanumeric() => Some(c),
        _ => None,
    }
}

fn shorthand(e: char) -> Option<Vec<(char, char)>> {
    match e {
        'd' => Some(vec![('0', '9')]),
        'w' => Some(vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')]),
        's' => Some(
            [' ', '\t', '\n', '\r', '\x0B', '\x0C']
                .iter()
                .map(|&c| (c, c))
                .collect(),
        ),
        _ => None,
    }
}

fn glob_literal(c: char, lower: bool) -> Option<String> {
    if lower && !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()) {
        return None; // SQLite's lower() folds ASCII only
    }
    Some(match c {
        '*' | '?' | '[' => format!("[{c}]"),
        c if lower => c.to_ascii_lowercase().to_string(),
        c => c.to_string(),
    })
}

/// `[...]` starting after the `[` at `chars[*i - 1]`; leaves `*i` after the closing `]`.
fn glob_class(chars: &[char], i: &mut usize, end: usize, lower: bool) -> Option<String> {
    let negate = chars.get(*i) == Some(&'^');
    if negate {
        *i += 1;
    }
    let mut items: Vec<(char, char)> = Vec::new();
    let mut first = true;
    loop {
        let c = *chars[..end].get(*i)?;
        *i += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let single = match c {
            '\\' => {
                let e = *chars[..end].get(*i)?;
                *i += 1;
                if let Some(more) = shorthand(e) {
                    items.extend(more);
                    continue;
                }
                escape_char(e)?
            }
            '[' => return None, // nested classes
            '&' | '~' | '-' if chars.get(*i) == Some(&c) => return None, // set operations
            c => c,
        };
        let range_end = chars[..end]
            .get(*i + 1)
            .copied()
            .filter(|&n| !matches!(n, ']' | '\\' | '['));
        if let (Some('-'), Some(last)) = (chars.get(*i), range_end) {
            items.push((single, last));
            *i += 2;
        } else {
            items.push((single, single));
        }
    }
    class_text(negate, &items, lower)
}

/// A GLOB class: `]` first, `-` last, `^` never first.
fn class_text(negate: bool, items: &[(char, char)], lower: bool) -> Option<String> {
    let mut body = String::new();
    let (mut close, mut dash, mut caret) = (false, false, false);
    for &(a, b) in items {
        let (a, b) = if lower {
            let has_upper = (a..=b).any(|c| c.is_ascii_uppercase());
            let all_upper = a.is_ascii_uppercase() && b.is_ascii_uppercase();
            match (has_upper, all_upper) {
                (false, _) => (a, b),
                (true, true) => (a.to_ascii_lowercase(), b.to_ascii_lowercase()),
                (true, false) => return None,
            }
        } else {
            (a, b)
        };
        if lower
            && [a, b]
                .iter()
                .any(|c| !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()))
        {
            return None;
        }
        match (a, b) {
            (']', ']') => close = true,
            ('-', '-') => dash = true,
            ('^', '^') => caret = true,
            (a, b) if a == b => body.push(a),
            (a, b) if [a, b].iter().any(|c| matches!(c, ']' | '-' | '^')) => return None,
            (a, b) => body.push_str(&format!("{a}-{b}")),
        }
    }
    if caret && body.is_empty() && !close && !negate {
        // `^` right after `[` would negate: put it second, or use it as a plain character.
        return Some(if dash { "[-^]" } else { "^" }.into());
    }
    let mut out = String::from(if negate { "[^" } else { "[" });
    if close {
        out.push(']');
    }
    out.push_str(&body);
    if caret {
        out.push('^');
    }
    if dash {
        out.push('-');
    }
    out.push(']');
    Some(out)
}
