//! Doc comments copied from `.proto` files, made safe for rustdoc.
//!
//! Proto comments are not written as Markdown for rustdoc: code blocks that are not Rust
//! (fenced as `text` by prost-build's `cleanup-markdown`, so they are neither compiled as
//! doctests nor warned about) and angle brackets that are not HTML, such as
//! `http[s]://server[:port]/path/<version>` in the OpenTelemetry protos, which rustdoc
//! reports as an unclosed HTML tag. [`escape_html`] turns the latter into text.

/// Escapes `<` as `&lt;` in the doc comments (`///` lines) of `code`, except inside code
/// blocks and inline code spans, and except where it opens an autolink (`<https://…>`,
/// which prost-build makes of bare URLs).
pub(crate) fn escape_html(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut in_block = false;
    for line in code.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let Some(doc) = trimmed.strip_prefix("///") else {
            in_block = false;
            out.push_str(line);
            continue;
        };
        if doc.trim_start().starts_with("```") {
            in_block = !in_block;
            out.push_str(line);
            continue;
        }
        if in_block || !doc.contains('<') {
            out.push_str(line);
            continue;
        }
        out.push_str(&line[..line.len() - doc.len()]);
        let mut in_span = false;
        for (i, c) in doc.char_indices() {
            match c {
                '`' => in_span = !in_span,
                '<' if !in_span && !opens_autolink(&doc[i + 1..]) => {
                    out.push_str("&lt;");
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
    }
    out
}

fn opens_autolink(rest: &str) -> bool {
    let url = rest
        .strip_prefix("http://")
        .or(rest.strip_prefix("https://"));
    url.is_some_and(|url| url.contains('>'))
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn angle_brackets_in_prose_become_text() {
        let code = "    /// schema: <https://x.io/a>/path/<version>.\n    /// `Vec<u8>` stays\n";
        assert_eq!(
            escape_html(code),
            "    /// schema: <https://x.io/a>/path/&lt;version>.\n    /// `Vec<u8>` stays\n"
        );
    }

    #[test]
    fn code_blocks_and_code_are_kept() {
        let code = "/// ```text\n/// <a>\n/// ```\n/// <b>\nfn f() -> Vec<u8> {}\n";
        assert_eq!(
            escape_html(code),
            "/// ```text\n/// <a>\n/// ```\n/// &lt;b>\nfn f() -> Vec<u8> {}\n"
        );
    }
}
