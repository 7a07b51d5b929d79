//! Every problem of a file at once (req O1): after the first, the
//! offending key is taken out and the rest read again; the problems the
//! checks after parsing find are added, those of keys taken out left out;
//! a required key not written at all is "missing"; an address that does
//! not parse is shown with the forms an address takes.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{ConfigError, Invalid, MAX_PROBLEMS, lines, locate, name_key, parse};

/// Whether the dotted `key` is written in the TOML `text` at all.
pub(super) fn present(text: &str, key: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return true;
    };
    let mut at = &table;
    let mut parts = key.split('[').next().unwrap_or(key).split('.').peekable();
    while let Some(p) = parts.next() {
        match at.get(p) {
            None => return false,
            Some(toml::Value::Table(t)) if parts.peek().is_some() => at = t,
            Some(_) => return parts.peek().is_none(),
        }
    }
    true
}

/// Like [`load`], but a key whose value is wrong does not stop the
/// reading: it is left out (its default used) and its problem returned
/// with the others, so that the checks after parsing can run on the rest
/// and every problem of the file be reported at once. A file that does
/// not read or is not TOML is still an error.
pub fn load_lenient<T: DeserializeOwned>(path: &Path) -> Result<(T, Vec<Invalid>), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    let e = match parse::<T>(&file, &text) {
        Ok(v) => return Ok((v, Vec::new())),
        Err(e) => e,
    };
    let first = match &e {
        ConfigError::Invalid(i) if i.key.is_some() => i.clone(),
        ConfigError::Many(all) => all[0].clone(),
        _ => return Err(e),
    };
    match more_problems::<T>(&file, &text, first) {
        (Some(v), all) => Ok((v, all)),
        (None, _) => Err(e),
    }
}

/// The problems found while parsing and those the checks after parsing
/// found, each located in its file ([`Invalid::located`]), leaving out the
/// latter for keys the former took out (they stood at their defaults).
pub fn combine(parsed: Vec<Invalid>, checked: Vec<Invalid>) -> Vec<Invalid> {
    let taken: Vec<String> = parsed
        .iter()
        .filter_map(|p| p.key.as_deref())
        .map(|k| k.split('[').next().unwrap_or(k).to_owned())
        .collect();
    let under = |k: &str, t: &str| {
        k == t
            || k.strip_prefix(t)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    let mut all = parsed;
    all.extend(checked.into_iter().filter(|c| {
        let k = c.key.as_deref().unwrap_or_default();
        !taken.iter().any(|t| under(k, t))
    }));
    let mut all: Vec<Invalid> = all.into_iter().map(Invalid::located).collect();
    // In the file's order; problems without a position (a table that could
    // not be located) last, in the order found.
    all.sort_by_key(|p| p.position.map_or((usize::MAX, usize::MAX), |at| at));
    all
}

/// [`combine`], one problem per line; `Ok` when there are none.
pub fn report_all(parsed: Vec<Invalid>, checked: Vec<Invalid>) -> Result<(), String> {
    let all = combine(parsed, checked);
    if all.is_empty() {
        Ok(())
    } else {
        Err(lines(&all))
    }
}

/// After the first problem, the others: the offending key is taken out
/// of the file's table and the rest deserialized again, up to
/// [`MAX_PROBLEMS`] (a key in an array takes the whole array out, so each
/// array reports its first problem only).
pub(super) fn more_problems<T: DeserializeOwned>(
    file: &str,
    text: &str,
    first: Invalid,
) -> (Option<T>, Vec<Invalid>) {
    let mut all = vec![first];
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return (None, all);
    };
    while all.len() < MAX_PROBLEMS {
        let Some(key) = all.last().and_then(|p| p.key.clone()) else {
            break;
        };
        if !remove(&mut table, &key) {
            break;
        }
        match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table.clone())) {
            Ok(v) => return (Some(v), all),
            Err(e) => {
                let path = e.path().to_string();
                let (key, problem) = name_key(&path, e.inner().message());
                let problem = match &key {
                    Some(k) => with_value(&table, k, problem),
                    None => problem,
                };
                let position = key.as_deref().and_then(|k| locate(text, k));
                all.push(Invalid {
                    file: file.to_owned(),
                    position,
                    key,
                    problem,
                });
            }
        }
    }
    (None, all)
}

/// Takes the dotted `key` (up to its first `[`) out of `table`; whether
/// it was there.
fn remove(table: &mut toml::Table, key: &str) -> bool {
    let key = key.split('[').next().unwrap_or(key);
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut at = table;
    for p in parts {
        match at.get_mut(p) {
            Some(toml::Value::Table(t)) => at = t,
            _ => return false,
        }
    }
    at.remove(last).is_some()
}

/// An address that does not parse: the value written and the form the
/// key takes, instead of the parser's bare "invalid IP address syntax".
pub(super) fn with_value(table: &toml::Table, key: &str, problem: String) -> String {
    if !problem.contains("address syntax") {
        return problem;
    }
    let Some(v) = value_at(table, key) else {
        return problem;
    };
    let shown = match v {
        toml::Value::String(s) => format!("`{s}`"),
        other => format!("`{other:?}`"),
    };
    if let toml::Value::String(written) = v
        && let Some(why) = prefix_mismatch(written, &problem)
    {
        return format!("{shown} {why}");
    }
    format!("{shown} is not {}", address_form(&problem))
}

/// A prefix key given something that parses as another kind: an IPv6
/// prefix where an IPv4 one was wanted (the only way a valid prefix fails
/// the prefix parser), or an address without its length.
fn prefix_mismatch(written: &str, problem: &str) -> Option<String> {
    if !problem.contains("invalid IP address syntax") {
        return None;
    }
    let written = written.trim();
    if written.parse::<ipnet::Ipv6Net>().is_ok() {
        return Some(
            "is an IPv6 prefix; this key takes IPv4 prefixes, such as `198.51.100.0/28`".into(),
        );
    }
    if written.parse::<ipnet::Ipv4Net>().is_ok() {
        return Some(
            "is an IPv4 prefix; this key takes IPv6 prefixes, such as `2001:db8:1::/64`".into(),
        );
    }
    match written.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => Some(format!(
            "has no `/LENGTH`: this key takes prefixes (`{written}/32` is this one address)"
        )),
        Ok(std::net::IpAddr::V6(_)) => Some(format!(
            "has no `/LENGTH`: this key takes prefixes (`{written}/128` is this one address)"
        )),
        Err(_) => None,
    }
}

/// The form a key takes, read from the parser's message: the standard
/// library names the kind of address it wanted (`invalid IPv6 socket
/// address syntax`); the prefix parser says only `invalid IP address
/// syntax`, and every key parsed by it is a prefix.
fn address_form(problem: &str) -> &'static str {
    if problem.contains("IPv4 socket address") {
        "an IPv4 address and a port, such as `198.51.100.1:25`"
    } else if problem.contains("IPv6 socket address") {
        "an IPv6 address in brackets and a port, such as `[2001:db8:1::2]:25`"
    } else if problem.contains("socket address") {
        "an address and a port, such as `192.0.2.53:53` or `[2001:db8::53]:53`"
    } else if problem.contains("IPv4 address") {
        "an IPv4 address, such as `192.0.2.1`"
    } else if problem.contains("IPv6 address") {
        "an IPv6 address, such as `2001:db8::1`"
    } else {
        "a prefix, an address and `/LENGTH`, such as `198.51.100.0/28` or \
         `2001:db8:1::/64` (docs/configuration.md gives each key's family)"
    }
}

/// The value at dotted `key` (with `[i]` indexes) in `table`.
pub(super) fn value_at<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut at: Option<&toml::Value> = None;
    for part in key.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
        at = Some(match at {
            None => table.get(name)?,
            Some(v) => v.as_table()?.get(name)?,
        });
        for i in indexes.split('[').filter(|x| !x.is_empty()) {
            let i: usize = i.trim_end_matches(']').parse().ok()?;
            at = at?.as_array()?.get(i);
        }
    }
    at
}
