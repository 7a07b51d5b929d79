//! Answers as text for a person: `key: value` lines for an object's
//! scalars, `key: a=1 b=2` for a small object, and an aligned table for a
//! list of rows (columns in the daemon's order). `--json` skips all this.

use std::fmt::Write as _;

use common::control::Value;

/// `v` as text.
pub(crate) fn text(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) => {
            let mut tables = Vec::new();
            for (k, v) in m {
                match v {
                    Value::Array(rows) if rows.iter().all(Value::is_object) => {
                        tables.push((k, rows));
                    }
                    Value::Array(items) => {
                        let items: Vec<String> = items.iter().map(scalar).collect();
                        let _ = writeln!(out, "{k}: {}", items.join(", "));
                    }
                    Value::Object(inner) if inner.values().all(is_scalar) => {
                        let parts: Vec<String> = inner
                            .iter()
                            .map(|(k, v)| format!("{k}={}", scalar(v)))
                            .collect();
                        let _ = writeln!(out, "{k}: {}", parts.join(" "));
                    }
                    _ => {
                        let _ = writeln!(out, "{k}: {}", scalar(v));
                    }
                }
            }
            for (k, rows) in tables {
                if rows.is_empty() {
                    let _ = writeln!(out, "{k}: none");
                } else {
                    let _ = writeln!(out, "{k}:");
                    out.push_str(&table(rows));
                }
            }
        }
        Value::Array(rows) if rows.iter().all(Value::is_object) => out.push_str(&table(rows)),
        other => {
            let _ = writeln!(out, "{}", scalar(other));
        }
    }
    out
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Rows of objects as an aligned table, the first row's keys as columns.
pub(crate) fn table(rows: &[Value]) -> String {
    let Some(Value::Object(first)) = rows.first() else {
        return String::new();
    };
    let cols: Vec<&String> = first.keys().collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| scalar(&r[c.as_str()])).collect())
        .collect();
    let mut width: Vec<usize> = cols.iter().map(|c| c.len()).collect();
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i == last {
                out.push_str(c);
            } else {
                let _ = write!(out, "{c:<w$}  ");
            }
        }
        out.push('\n');
    };
    line(
        cols.iter()
            .map(|c| c.to_uppercase())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::control::json;

    #[test]
    fn objects_and_tables() {
        let v = json!({
            "daemon": "nat64d",
            "sessions": {"tcp": 1, "udp": 2},
            "rows": [{"proto": "udp", "pool": "198.51.100.1#40000"}, {"proto": "tcp", "pool": "x"}],
            "none": [],
        });
        assert_eq!(
            text(&v),
            "daemon: nat64d\nsessions: tcp=1 udp=2\nrows:\nPROTO  POOL\nudp    198.51.100.1#40000\ntcp    x\nnone: none\n"
        );
    }
}
