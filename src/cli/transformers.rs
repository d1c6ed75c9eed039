//! `transformer list`: every built-in transformer with its options and the
//! column types it accepts.

use std::fmt::Write;

use crate::transform::registry;
use crate::transform::spec::Kind;

/// Prints the list on stdout.
pub fn list() {
    print!("{}", render(registry::ALL));
}

fn render(kinds: &[Kind]) -> String {
    let mut out = String::new();
    for kind in kinds {
        let _ = writeln!(out, "{}\n    {}", kind.name, kind.summary);
        let _ = writeln!(out, "    types:   {}", kind.accepted_types());
        if kind.options.is_empty() {
            let _ = writeln!(out, "    options: none");
        }
        for (i, (name, doc)) in kind.options.iter().enumerate() {
            let label = if i == 0 { "options:" } else { "" };
            let _ = writeln!(out, "    {label:<8} {name}: {doc}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transformer_is_listed_with_types_and_options() {
        let text = render(registry::ALL);
        for kind in registry::ALL {
            assert!(text.contains(&format!("{}\n    {}", kind.name, kind.summary)), "{}", kind.name);
        }
        assert!(text.contains("credit-card\n"));
        assert!(text.contains("    types:   text, varchar, bpchar\n"));
        assert!(text.contains("    options: domain: "));
    }
}
