//! The layout ARCHITECTURE.md promises, checked: no import cycle between
//! the modules of any crate (at each level of the module tree), no
//! function in the daemons' I/O shells over 80 lines, no source file over
//! 550 lines outside its tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments and without an inline `mod tests { .. }`.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file relative to a crate's `src` (`a/b.rs` and
/// `a/b/mod.rs` are `[a, b]`; `lib.rs`, `main.rs` are `[]`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn is_test_file(rel: &Path) -> bool {
    rel.iter().any(|p| p == "tests" || p == "tests.rs")
}

/// The first path segments after each `prefix` (`crate::`, `super::`),
/// groups included: `crate::{a, b::c}` gives `a` and `b`.
fn refs(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s[..end].to_string()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        out.push(ident(&group[i..]));
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|r| !r.is_empty() && r != "self");
    out
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut c = stack[from..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_cycle_between_sibling_modules() {
    for krate in ["common", "nat64d", "dns64d", "ctl"] {
        let src = root().join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        // parent module path -> (child -> children it refers to)
        let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap();
            if is_test_file(rel) {
                continue;
            }
            let module = module_of(rel);
            let text = code(&std::fs::read_to_string(f).unwrap());
            // `crate::x::...` from module [a, b, c] is an edge a -> x at
            // the top level; `super::y` from [a, b] is b -> y under [a].
            if let Some(top) = module.first() {
                for r in refs(&text, "crate::") {
                    if r != *top {
                        graphs
                            .entry(vec![])
                            .or_default()
                            .entry(top.clone())
                            .or_default()
                            .insert(r);
                    }
                }
            }
            if module.len() >= 2 {
                let (parent, me) = module.split_at(module.len() - 1);
                for r in refs(&text, "super::") {
                    if r != me[0]
                        && files.iter().any(|g| {
                            let m = module_of(g.strip_prefix(&src).unwrap());
                            m.len() == module.len()
                                && m.starts_with(parent)
                                && m.last().is_some_and(|x| *x == r)
                        })
                    {
                        graphs
                            .entry(parent.to_vec())
                            .or_default()
                            .entry(me[0].clone())
                            .or_default()
                            .insert(r);
                    }
                }
            }
        }
        for (parent, g) in &graphs {
            if let Some(c) = cycle(g) {
                panic!(
                    "{krate}: import cycle under `{}`: {}",
                    parent.join("::"),
                    c.join(" -> ")
                );
            }
        }
    }
}

#[test]
fn shell_functions_are_short_and_files_are_small() {
    let shells = [
        "nat64d/src/main.rs",
        "nat64d/src/shell",
        "dns64d/src/main.rs",
        "dns64d/src/metrics.rs",
        "dns64d/src/server.rs",
        "dns64d/src/listen.rs",
        "common/src/metrics.rs",
        "common/src/logging.rs",
        "common/src/control.rs",
        "dns64d/src/control.rs",
        "ctl/src",
    ];
    let mut long = Vec::new();
    for krate in ["common", "nat64d", "dns64d", "ctl"] {
        let src = root().join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let rel = f
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .to_string();
            if is_test_file(f.strip_prefix(&src).unwrap()) {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let body = match text.find("#[cfg(test)]\nmod tests") {
                Some(at) => &text[..at],
                None => &text[..],
            };
            let lines: Vec<&str> = body.lines().collect();
            if lines.len() > 550 {
                long.push(format!("{rel}: {} lines", lines.len()));
            }
            if !shells.iter().any(|s| rel.starts_with(s)) {
                continue;
            }
            for (i, l) in lines.iter().enumerate() {
                let t = l.trim_start();
                let indent = &l[..l.len() - t.len()];
                let is_fn = [
                    "fn ",
                    "pub fn ",
                    "pub(crate) fn ",
                    "async fn ",
                    "pub async fn ",
                    "pub(crate) async fn ",
                ]
                .iter()
                .any(|p| t.starts_with(p));
                if !is_fn || t.ends_with(';') {
                    continue;
                }
                let close = format!("{indent}}}");
                if let Some(n) = lines[i + 1..].iter().position(|x| *x == close) {
                    if n + 2 > 80 {
                        long.push(format!("{rel}:{}: a function of {} lines", i + 1, n + 2));
                    }
                }
            }
        }
    }
    assert!(long.is_empty(), "{long:#?}");
}

/// Every source file below a crate's `src/` is a module its parent
/// declares: a file nobody declares (a test file a refactoring left behind)
/// is never compiled, and its tests never run.
#[test]
fn every_source_file_is_a_declared_module() {
    let mut orphans = Vec::new();
    for krate in ["common", "nat64d", "dns64d", "ctl"] {
        let src = root().join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let rel = f.strip_prefix(&src).unwrap_or(&f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let dir = f.parent().unwrap_or(&src);
            if rel.components().count() == 1 || name == "mod" {
                continue; // lib.rs, main.rs, a crate-level module, or a mod.rs
            }
            let parent = if dir.join("mod.rs").exists() {
                dir.join("mod.rs")
            } else {
                dir.with_extension("rs")
            };
            let text = std::fs::read_to_string(&parent).unwrap_or_default();
            if !text.contains(&format!("mod {name};")) && !text.contains(&format!("mod {name} {{"))
            {
                orphans.push(rel.display().to_string());
            }
        }
    }
    // Crate-level files must be declared by lib.rs or main.rs.
    for krate in ["common", "nat64d", "dns64d", "ctl"] {
        let src = root().join(krate).join("src");
        let roots: String = ["lib.rs", "main.rs"]
            .iter()
            .map(|r| std::fs::read_to_string(src.join(r)).unwrap_or_default())
            .collect();
        for e in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if p.extension().is_some_and(|x| x == "rs")
                && name != "lib"
                && name != "main"
                && !roots.contains(&format!("mod {name};"))
            {
                orphans.push(format!("{krate}/src/{name}.rs"));
            }
        }
    }
    assert!(orphans.is_empty(), "never compiled: {orphans:?}");
}
