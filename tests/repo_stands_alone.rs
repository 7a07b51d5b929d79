//! The repo stands alone: every requirement id cited in code and tests is
//! defined in `docs/requirements.md` (and its "implemented"/"tested" lines
//! are current), `docs/drop-reasons.md` lists exactly the drop reasons the
//! code has, the docs name no drop reason that does not exist, and nothing
//! refers to a file outside the repo or to an issue tracker.
//!
//! `NAT64GW_BLESS=1 cargo test --test repo_stands_alone` rewrites the two
//! generated pages after a change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use nat64d::stats::DropReason;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("NAT64GW_BLESS").is_some()
}

/// The text files of the tree that are the product: code, scripts, docs.
fn tree_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            tree_files(&p, out);
        } else if ["rs", "sh", "py", "md", "toml", "service"]
            .iter()
            .any(|x| name.ends_with(&format!(".{x}")))
        {
            out.push(p);
        }
    }
}

#[test]
fn requirement_index_is_current() {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/requirements.py"));
    if !bless() {
        cmd.arg("--check");
    }
    let out = cmd.output().expect("python3 runs scripts/requirements.py");
    assert!(
        out.status.success(),
        "{}(an id cited that docs/requirements.md does not define, or a stale page: run scripts/requirements.py, or NAT64GW_BLESS=1 cargo test --test repo_stands_alone)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The doc comment of each `DropReason` variant, read from stats.rs, in
/// declaration order.
fn reason_docs() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(root().join("nat64d/src/stats.rs")).expect("stats.rs");
    let body = src
        .split("pub enum DropReason {")
        .nth(1)
        .and_then(|s| s.split("\n}\n").next())
        .expect("the DropReason enum");
    let (mut out, mut doc) = (Vec::new(), Vec::new());
    for line in body.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_string());
        } else if let Some(v) = line.strip_suffix(',') {
            out.push((v.to_string(), doc.join(" ")));
            doc.clear();
        }
    }
    out
}

#[test]
fn drop_reason_page_lists_every_reason() {
    let docs = reason_docs();
    assert_eq!(
        docs.len(),
        DropReason::ALL.len(),
        "variants in stats.rs vs DropReason::ALL"
    );
    let mut page = String::from(
        "# Drop reasons\n\n\
         Every packet nat64d does not translate is counted under one reason in\n\
         `nat64d_drops_total{reason=\"...\"}` (docs/deploy.md, \"Metrics\"). This page is\n\
         generated from `nat64d/src/stats.rs` by `tests/repo_stands_alone.rs`\n\
         (`NAT64GW_BLESS=1 cargo test --test repo_stands_alone` rewrites it).\n\n\
         | reason | what it means |\n|---|---|\n",
    );
    for (r, (variant, doc)) in DropReason::ALL.iter().zip(&docs) {
        assert_eq!(
            format!("{r:?}"),
            *variant,
            "DropReason::ALL is in declaration order"
        );
        page.push_str(&format!(
            "| `{}` | {} |\n",
            r.name(),
            doc.replace('|', "\\|")
        ));
    }
    let path = root().join("docs/drop-reasons.md");
    if bless() {
        std::fs::write(&path, &page).expect("write docs/drop-reasons.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == page,
        "docs/drop-reasons.md is stale: NAT64GW_BLESS=1 cargo test --test repo_stands_alone"
    );
}

#[test]
fn docs_name_only_drop_reasons_that_exist() {
    let names: BTreeSet<&str> = DropReason::ALL.iter().map(|r| r.name()).collect();
    let mut files = Vec::new();
    tree_files(&root().join("docs"), &mut files);
    files.push(root().join("README.md"));
    let mut wrong = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            // `reason="x"` anywhere but on a line about dns64d's own
            // counters, and backquoted words on a line about the drop
            // counter.
            if line.contains("dns64d_") && !line.contains("nat64d_drops_total") {
                continue;
            }
            let mut named: Vec<&str> = line
                .split("reason=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .collect();
            if line.contains("drops_total") {
                named.extend(line.split('`').skip(1).step_by(2).filter(|w| {
                    !w.is_empty()
                        && !w.starts_with("nat64d_")
                        && !w.starts_with("dns64d_")
                        && w.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                }));
            }
            for n in named {
                if !names.contains(n) && n != "..." {
                    wrong.push(format!("{}: {n}", f.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "drop reasons that do not exist: {wrong:#?}"
    );
}

#[test]
fn no_reference_outside_the_repo() {
    let mut files = Vec::new();
    tree_files(&root(), &mut files);
    let mut found = Vec::new();
    let needles = ["../shared", "SPEC.md", "Issue ", "issue #"];
    for f in files {
        if f.ends_with("tests/repo_stands_alone.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let issue_number = line
                .match_indices("issue ")
                .any(|(at, _)| line[at + 6..].starts_with(|c: char| c.is_ascii_digit()));
            if issue_number || needles.iter().any(|n| line.contains(n)) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "references outside the repo: {found:#?}");
}

/// Every test `docs/conformance.md` names exists: a unit test (`fn NAME`
/// in the sources) or an end-to-end case (`t_NAME` in `tests/netns/`).
#[test]
fn conformance_page_names_only_tests_that_exist() {
    let page = std::fs::read_to_string(root().join("docs/conformance.md")).expect("the page");
    let mut files = Vec::new();
    tree_files(&root(), &mut files);
    let code: String = files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "rs" || x == "sh"))
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let mut missing = Vec::new();
    let mut named = 0;
    for line in page.lines().filter(|l| l.starts_with("| §")) {
        for cell in line.split('|').skip(3) {
            for name in cell.split('`').skip(1).step_by(2) {
                named += 1;
                if !code.contains(&format!("fn {name}("))
                    && !code.contains(&format!("t_{name}() {{"))
                {
                    missing.push(name.to_string());
                }
            }
        }
    }
    assert!(named > 50, "the page names {named} tests");
    assert!(
        missing.is_empty(),
        "docs/conformance.md names tests that do not exist: {missing:?}"
    );
}
