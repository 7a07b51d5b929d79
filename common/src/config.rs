//! The gateway configuration file both daemons read (req A4, O1).
//!
//! One TOML file holds the shared `[prefix]` section and one section per
//! daemon (`[nat64]`, `[dns64]`). Each daemon reads the whole file through
//! [`GatewayFile`] with its own section type and treats the other daemon's
//! section as an opaque table, so both always see the same prefixes. Unknown
//! keys are errors; every error names the file, the line, the key and the
//! problem.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::prefix::{Nat64Prefix, PrefixKind, WELL_KNOWN_PREFIX, extract};
use crate::special::{Embeddable, embeddable};

mod problems;
pub use problems::{combine, load_lenient, report_all};
use problems::{more_problems, present, with_value};

/// The whole gateway file, as one daemon sees it: `N` is the type of the
/// `[nat64]` section, `D` that of `[dns64]`. A daemon passes its own section
/// type for its own section and [`toml::Table`] for the other one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile<N = toml::Table, D = toml::Table> {
    /// `[prefix]`: the NAT64 prefixes both daemons use.
    #[serde(default)]
    pub prefix: PrefixConfig,
    /// `[nat64]`: nat64d's own settings.
    #[serde(default)]
    pub nat64: N,
    /// `[dns64]`: dns64d's own settings.
    #[serde(default)]
    pub dns64: D,
}

/// The shared `[prefix]` section: the prefix table both daemons use
/// (req A1, A3, A4, D8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixConfig {
    /// `prefixes`: one or more NAT64 prefixes, no two overlapping.
    /// Default: `["64:ff9b::/96"]`.
    #[serde(default)]
    pub prefixes: PrefixList,
    /// `allow_non_global`: let the Well-Known Prefix carry non-global IPv4
    /// addresses (req A3). For labs only. Default: `false`.
    #[serde(default)]
    pub allow_non_global: bool,
}

impl PrefixConfig {
    /// The prefix holding `addr`, and the IPv4 address embedded in it.
    pub fn extract(&self, addr: Ipv6Addr) -> Option<(&Nat64Prefix, Ipv4Addr)> {
        self.prefixes
            .iter()
            .find_map(|p| extract(p, addr).map(|v4| (p, v4)))
    }

    /// req A3 under this configuration's `allow_non_global`.
    pub fn embeddable(&self, prefix: &Nat64Prefix, addr: Ipv4Addr) -> Embeddable {
        embeddable(prefix, addr, self.allow_non_global)
    }

    /// A one-line summary for start-up logs and `--check-config`.
    pub fn summary(&self) -> String {
        let list: Vec<String> = self
            .prefixes
            .iter()
            .map(|p| {
                let kind = match p.kind() {
                    PrefixKind::WellKnown => "well-known",
                    PrefixKind::LocalUse => "local-use, RFC 8215",
                    PrefixKind::NetworkSpecific => "network-specific",
                };
                format!("{p} ({kind})")
            })
            .collect();
        format!(
            "prefixes: {}; allow_non_global = {}",
            list.join(", "),
            self.allow_non_global
        )
    }
}

/// A non-empty list of NAT64 prefixes, no two of which overlap (an address
/// inside two prefixes would have two meanings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList(Vec<Nat64Prefix>);

impl PrefixList {
    /// Validates a list of prefixes.
    pub fn new(prefixes: Vec<Nat64Prefix>) -> Result<PrefixList, String> {
        if prefixes.is_empty() {
            return Err(
                "the list is empty; give at least one NAT64 prefix, such as \"64:ff9b::/96\""
                    .to_owned(),
            );
        }
        for (i, a) in prefixes.iter().enumerate() {
            for b in &prefixes[..i] {
                if a == b {
                    return Err(format!("`{a}` is listed twice"));
                }
                if a.overlaps(b) {
                    return Err(format!(
                        "`{b}` and `{a}` overlap; an address inside both would have two meanings"
                    ));
                }
            }
        }
        Ok(PrefixList(prefixes))
    }

    /// The prefixes, in configured order.
    pub fn iter(&self) -> std::slice::Iter<'_, Nat64Prefix> {
        self.0.iter()
    }

    /// The prefixes as a slice.
    pub fn as_slice(&self) -> &[Nat64Prefix] {
        &self.0
    }
}

impl Default for PrefixList {
    fn default() -> Self {
        PrefixList(vec![WELL_KNOWN_PREFIX])
    }
}

impl<'de> Deserialize<'de> for PrefixList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Nat64Prefix>::deserialize(d)?;
        PrefixList::new(list).map_err(serde::de::Error::custom)
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the configuration file: {source}")]
    Read {
        /// The file name as given.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{0}")]
    Invalid(Invalid),
    /// Several problems, in the order found (each on its own line).
    #[error("{}", lines(.0))]
    Many(Vec<Invalid>),
}

/// Problems one per line.
pub fn lines(problems: &[Invalid]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Most problems one file reports at once.
pub const MAX_PROBLEMS: usize = 20;

/// Where and why a configuration file is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The file name as given.
    pub file: String,
    /// 1-based line and column of the offending text, when known.
    pub position: Option<(usize, usize)>,
    /// The dotted key, such as `prefix.prefixes[1]`, when the problem is in
    /// a value rather than in the TOML syntax.
    pub key: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        match &self.key {
            Some(key) => write!(f, ": key `{key}`: {}", self.problem),
            None => write!(f, ": {}", self.problem),
        }
    }
}

impl ConfigError {
    /// The structured form of an invalid file, or `None` for a read error.
    pub fn invalid(&self) -> Option<&Invalid> {
        match self {
            ConfigError::Invalid(invalid) => Some(invalid),
            ConfigError::Many(all) => all.first(),
            ConfigError::Read { .. } => None,
        }
    }
}

/// Reads and validates the configuration file at `path` into `T`
/// (usually a [`GatewayFile`]).
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&file, &text)
}

impl Invalid {
    /// Fills in where the key is written in the file when a check after
    /// parsing found the problem (best effort: a `key = ` line of a
    /// `[table]`; a key inside an inline table or an array of tables keeps
    /// no position). A required key that is not in the file at all is
    /// said to be missing rather than empty.
    #[must_use]
    pub fn located(mut self) -> Self {
        if self.position.is_none()
            && let Some(k) = &self.key
            && let Ok(text) = std::fs::read_to_string(&self.file)
        {
            self.position = locate(&text, k);
            if self.position.is_none()
                && let Some(rest) = self.problem.strip_prefix("is empty")
                && !present(&text, k)
            {
                self.problem = format!("is missing (required){rest}");
            }
        }
        self
    }
}

impl Invalid {
    /// The problem for `key` in `file`, position unknown yet.
    pub fn at_key(file: &str, key: String, problem: String) -> Self {
        Invalid {
            file: file.to_owned(),
            position: None,
            key: Some(key),
            problem,
        }
    }
}

/// Where the dotted `key` (such as `nat64.mtu` or `nat64.pool4[1]`) is
/// written in `text`: 1-based line and column of its name.
pub fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let key = key.split('[').next()?;
    let (table, name) = key.rsplit_once('.')?;
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.trim_matches(|c| c == '[' || c == ']').trim() == table;
            continue;
        }
        if inside
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == name
        {
            return Some((i + 1, line.find(k.trim()).map_or(1, |c| c + 1)));
        }
    }
    None
}

/// Validates configuration `text` into `T`; `file` names it in errors.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    let invalid = |position, key, problem| {
        ConfigError::Invalid(Invalid {
            file: file.to_owned(),
            position,
            key,
            problem,
        })
    };
    let de = toml::de::Deserializer::parse(text).map_err(|e| {
        let at = position(text, &e);
        let mut problem = e.message().to_owned();
        if problem.starts_with("duplicate key")
            && let Some(name) = at.and_then(|p| key_at(text, p))
        {
            problem = format!("duplicate key `{name}`: each key once per table");
        }
        invalid(at, None, problem)
    })?;
    let first = match serde_path_to_error::deserialize(de) {
        Ok(v) => return Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.inner();
            let (key, problem) = name_key(&path, inner.message());
            let problem = match (&key, text.parse::<toml::Table>()) {
                (Some(k), Ok(table)) => with_value(&table, k, problem),
                _ => problem,
            };
            Invalid {
                file: file.to_owned(),
                position: position(text, inner),
                key,
                problem,
            }
        }
    };
    Err(match more_problems::<T>(file, text, first) {
        (_, mut all) if all.len() == 1 => ConfigError::Invalid(all.remove(0)),
        (_, all) => ConfigError::Many(all),
    })
}

/// 1-based line and column of a TOML error's span.
fn position(text: &str, err: &toml::de::Error) -> Option<(usize, usize)> {
    let offset = err.span()?.start.min(text.len());
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

/// Turns serde's path and message into the key an operator wrote and the
/// problem with it. serde_path_to_error already puts an unknown key at the end
/// of the path; the message repeats its name, which we drop.
fn name_key(path: &str, message: &str) -> (Option<String>, String) {
    let key = (path != ".").then(|| path.to_owned());
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((_, expected)) = rest.split_once('`')
    {
        let expected = expected.trim_start_matches(", ");
        let problem = if expected.is_empty() {
            "unknown key".to_owned()
        } else {
            format!("unknown key; {expected}")
        };
        return (key, problem);
    }
    (key, plain_types(message))
}

/// The key written at 1-based `(line, column)` of `text`.
fn key_at(text: &str, (line, column): (usize, usize)) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let rest: String = l.chars().skip(column.checked_sub(1)?).collect();
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
        .collect();
    (!name.is_empty()).then(|| name.trim_matches('"').to_owned())
}

/// serde's Rust type names in what an operator reads.
fn plain_types(message: &str) -> String {
    const NAMES: [(&str, &str); 9] = [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ];
    let mut m = message.to_owned();
    for (rust, plain) in NAMES {
        if m.ends_with(rust) {
            m.truncate(m.len() - rust.len());
            m.push_str(plain);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_gw(text: &str) -> Result<GatewayFile, Invalid> {
        parse::<GatewayFile>("gateway.toml", text).map_err(|e| e.invalid().cloned().unwrap())
    }

    fn message(text: &str) -> String {
        parse_gw(text).unwrap_err().to_string()
    }

    #[test]
    fn a_key_found_after_parsing_is_located_in_the_file() {
        let text = "[prefix]\nallow_non_global = true\n\n[nat64]\npool4 = [\"198.51.100.0/28\"]\n  mtu = 60\n[nat64.limits]\nsessions_per_source = 1\n";
        assert_eq!(locate(text, "nat64.mtu"), Some((6, 3)));
        assert_eq!(locate(text, "nat64.pool4[0]"), Some((5, 1)));
        assert_eq!(
            locate(text, "nat64.limits.sessions_per_source"),
            Some((8, 1))
        );
        assert_eq!(locate(text, "nat64.tun"), None, "not written: no position");
        assert_eq!(locate(text, "prefix.allow_non_global"), Some((2, 1)));
    }

    #[test]
    fn errors_name_the_duplicate_key_and_no_rust_types() {
        let m = message("[prefix]\nallow_non_global = true\nallow_non_global = false\n");
        assert!(m.contains("3:1: duplicate key `allow_non_global`"), "{m}");
        assert_eq!(
            plain_types("invalid value: integer `99999`, expected u16"),
            "invalid value: integer `99999`, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain_types("invalid type: string \"x\", expected usize"),
            "invalid type: string \"x\", expected a whole number, 0 or more"
        );
        let m = message("[prefix]\nallow_non_global = 1\n");
        assert!(m.contains("expected true or false"), "{m}");
    }

    #[test]
    fn a4_defaults() {
        let cfg = parse_gw("").unwrap();
        assert_eq!(cfg.prefix.prefixes.as_slice(), &[WELL_KNOWN_PREFIX]);
        assert!(!cfg.prefix.allow_non_global);
        assert!(cfg.nat64.is_empty() && cfg.dns64.is_empty());
    }

    #[test]
    fn a4_example_file() {
        let cfg = parse_gw(
            "[prefix]\nprefixes = [\"64:ff9b::/96\", \"2001:db8:64::/96\"]\nallow_non_global = true\n\
             [nat64]\ntun = \"nat64\"\n[dns64]\nlisten = [\"[::]:53\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.prefix.prefixes.as_slice().len(), 2);
        assert!(cfg.prefix.allow_non_global);
        assert_eq!(cfg.nat64["tun"].as_str(), Some("nat64"));
        let (p, v4) = cfg
            .prefix
            .extract("2001:db8:64::c000:221".parse().unwrap())
            .unwrap();
        assert_eq!(p.to_string(), "2001:db8:64::/96");
        assert_eq!(v4, Ipv4Addr::new(192, 0, 2, 33));
        assert!(
            cfg.prefix
                .extract("2001:db8:65::1".parse().unwrap())
                .is_none()
        );
    }

    #[test]
    fn bad_length_names_file_key_and_rule() {
        assert_eq!(
            message("[prefix]\nprefixes = [\"64:ff9b::/96\", \"2001:db8::/33\"]\n"),
            "gateway.toml:2:29: key `prefix.prefixes[1]`: `2001:db8::/33` has length /33, \
             but a NAT64 prefix must be /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)"
        );
    }

    #[test]
    fn u_octet_names_key() {
        let m = message("[prefix]\nprefixes = [\"2001:db8:0:0:ff00::/96\"]\n");
        assert!(m.starts_with("gateway.toml:2:"), "{m}");
        assert!(m.contains("key `prefix.prefixes[0]`"), "{m}");
        assert!(m.contains("u octet"), "{m}");
    }

    #[test]
    fn host_bits_names_key() {
        let m = message("[prefix]\nprefixes = [\"64:ff9b::1/96\"]\n");
        assert!(m.contains("key `prefix.prefixes[0]`"), "{m}");
        assert!(m.contains("host bits"), "{m}");
    }

    #[test]
    fn unknown_key_in_section() {
        assert_eq!(
            message("[prefix]\nprefixs = [\"64:ff9b::/96\"]\n"),
            "gateway.toml:2:1: key `prefix.prefixs`: unknown key; expected `prefixes` or `allow_non_global`"
        );
    }

    #[test]
    fn unknown_section() {
        let m = message("[prefixes]\nprefixes = []\n");
        assert!(m.starts_with("gateway.toml:1:"), "{m}");
        assert!(
            m.contains("key `prefixes`: unknown key; expected one of `prefix`, `nat64`, `dns64`"),
            "{m}"
        );
    }

    #[test]
    fn wrong_type() {
        assert_eq!(
            message("[prefix]\nallow_non_global = \"yes\"\n"),
            "gateway.toml:2:20: key `prefix.allow_non_global`: invalid type: string \"yes\", expected true or false"
        );
        let m = message("[prefix]\nprefixes = \"64:ff9b::/96\"\n");
        assert!(
            m.contains("key `prefix.prefixes`: invalid type: string"),
            "{m}"
        );
        let m = message("nat64 = 5\n");
        assert!(m.contains("key `nat64`: invalid type: integer `5`"), "{m}");
    }

    #[test]
    fn empty_overlapping_and_duplicate_lists() {
        let m = message("[prefix]\nprefixes = []\n");
        assert!(
            m.contains("key `prefix.prefixes`: the list is empty"),
            "{m}"
        );
        let m = message("[prefix]\nprefixes = [\"2001:db8::/32\", \"2001:db8:0:1::/64\"]\n");
        assert!(
            m.contains("`2001:db8::/32` and `2001:db8:0:1::/64` overlap"),
            "{m}"
        );
        let m = message("[prefix]\nprefixes = [\"64:ff9b::/96\", \"64:ff9b::/96\"]\n");
        assert!(m.contains("`64:ff9b::/96` is listed twice"), "{m}");
    }

    #[test]
    fn toml_syntax_error() {
        let m = message("[prefix]\nprefixes = [\"64:ff9b::/96\"\n");
        assert!(m.starts_with("gateway.toml:"), "{m}");
        assert!(!m.contains("key `"), "{m}");
    }

    #[test]
    fn unreadable_file() {
        let err = load::<GatewayFile>(Path::new("/nonexistent/gateway.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(
            err.to_string()
                .starts_with("/nonexistent/gateway.toml: cannot read the configuration file:"),
            "{err}"
        );
    }

    #[test]
    fn summary_names_kinds() {
        let cfg =
            parse_gw("[prefix]\nprefixes = [\"64:ff9b::/96\", \"64:ff9b:1::/48\"]\n").unwrap();
        assert_eq!(
            cfg.prefix.summary(),
            "prefixes: 64:ff9b::/96 (well-known), 64:ff9b:1::/48 (local-use, RFC 8215); allow_non_global = false"
        );
    }

    /// Every problem of the file at once, each with its line and key, not
    /// only the first (up to MAX_PROBLEMS).
    #[test]
    fn o1_every_problem_is_reported_at_once() {
        let text = "[prefix]\nprefixes = [\"64:ff9b::/95\"]\nallow_non_global = 3\nbogus = 1\n";
        let e = parse::<GatewayFile>("g.toml", text).unwrap_err();
        let ConfigError::Many(all) = &e else {
            panic!("one problem only: {e}")
        };
        let keys: Vec<_> = all
            .iter()
            .map(|p| p.key.clone().unwrap_or_default())
            .collect();
        assert_eq!(keys.len(), 3, "{e}");
        for k in ["prefix.prefixes", "prefix.allow_non_global", "prefix.bogus"] {
            assert!(keys.iter().any(|x| x.starts_with(k)), "{k} not in {keys:?}");
        }
        assert!(all.iter().all(|p| p.position.is_some()), "{e}");
        assert_eq!(e.to_string().lines().count(), 3);
        // One problem: as before.
        let e = parse::<GatewayFile>("g.toml", "[prefix]\nbogus = 1\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(_)), "{e}");
    }

    #[test]
    fn o1_a_required_key_left_out_is_missing_not_empty() {
        let dir = std::env::temp_dir().join(format!("nat64gw-missing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("g.toml");
        std::fs::write(&f, "[nat64]\ntun = \"x\"\n").unwrap();
        let file = f.display().to_string();
        let empty = "is empty: list the pool".to_string();
        let p = Invalid::at_key(&file, "nat64.pool4".into(), empty.clone()).located();
        assert_eq!(p.problem, "is missing (required): list the pool");
        std::fs::write(&f, "[nat64]\npool4 = []\n").unwrap();
        let p = Invalid::at_key(&file, "nat64.pool4".into(), empty.clone()).located();
        assert_eq!(
            (p.problem.as_str(), p.position),
            (empty.as_str(), Some((2, 1)))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A lenient load leaves a bad key out and goes on, so the checks
    /// after parsing run too; an address error shows the value and the
    /// forms an address takes.
    #[test]
    fn o1_lenient_load_and_address_errors_with_their_value() {
        let dir = std::env::temp_dir().join(format!("nat64gw-lenient-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("g.toml");
        std::fs::write(
            &f,
            "[prefix]\nallow_non_global = 7\n[nat64]\npool4 = [\"nope\"]\n",
        )
        .unwrap();
        let (g, problems): (GatewayFile, _) = load_lenient(&f).unwrap();
        assert!(
            !g.prefix.allow_non_global,
            "the bad key stands at its default"
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        let t: toml::Table = "a = [\"x\", \"nope\"]\n[b]\nc = 5\n".parse().unwrap();
        assert_eq!(
            problems::value_at(&t, "a[1]").and_then(|v| v.as_str()),
            Some("nope")
        );
        assert_eq!(
            problems::value_at(&t, "b.c").and_then(toml::Value::as_integer),
            Some(5)
        );
        let p = with_value(&t, "a[1]", "invalid IP address syntax".into());
        assert!(
            p.starts_with("`nope` is not a prefix") && p.contains("198.51.100.0/28"),
            "{p}"
        );
        // Checks after parsing on a key parsing took out are not repeated.
        let parsed = vec![Invalid::at_key(
            "g.toml",
            "nat64.pool4[0]".into(),
            "bad".into(),
        )];
        let checked = vec![
            Invalid::at_key("g.toml", "nat64.pool4".into(), "is empty".into()),
            Invalid::at_key("g.toml", "nat64.pool4x".into(), "other".into()),
        ];
        let all = combine(parsed, checked);
        let keys: Vec<_> = all.iter().filter_map(|p| p.key.as_deref()).collect();
        assert_eq!(keys, ["nat64.pool4[0]", "nat64.pool4x"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Each address type's own parse error, as serde hands it over, turned
    /// into the value and the form the key takes (req O1).
    #[test]
    fn o1_address_errors_name_the_form_the_key_takes() {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
        fn err<T: std::str::FromStr>(s: &str) -> String
        where
            T::Err: std::fmt::Display,
        {
            s.parse::<T>()
                .err()
                .map(|e| e.to_string())
                .expect("a bad value")
        }
        let cases: [(&str, String, &str); 8] = [
            (
                "1.2.3.4",
                err::<SocketAddr>("1.2.3.4"),
                "is not an address and a port, such as `192.0.2.53:53`",
            ),
            (
                "198.51.100.1",
                err::<SocketAddrV4>("198.51.100.1"),
                "is not an IPv4 address and a port",
            ),
            (
                "2001:db8::2",
                err::<SocketAddrV6>("2001:db8::2"),
                "is not an IPv6 address in brackets and a port",
            ),
            (
                "2001:db8::1",
                err::<Ipv4Addr>("2001:db8::1"),
                "is not an IPv4 address, such as `192.0.2.1`",
            ),
            (
                "192.0.2.1",
                err::<Ipv6Addr>("192.0.2.1"),
                "is not an IPv6 address, such as `2001:db8::1`",
            ),
            (
                "2001:db8::/64",
                err::<ipnet::Ipv4Net>("2001:db8::/64"),
                "is an IPv6 prefix; this key takes IPv4 prefixes",
            ),
            (
                "192.0.2.0/24",
                err::<ipnet::Ipv6Net>("192.0.2.0/24"),
                "is an IPv4 prefix; this key takes IPv6 prefixes",
            ),
            (
                "2001:db8:1::",
                err::<ipnet::IpNet>("2001:db8:1::"),
                "has no `/LENGTH`: this key takes prefixes (`2001:db8:1::/128` is this one address)",
            ),
        ];
        for (written, parser_said, want) in cases {
            let t: toml::Table = format!("k = {written:?}\n").parse().unwrap();
            let p = with_value(&t, "k", parser_said.clone());
            assert!(p.starts_with(&format!("`{written}` ")), "{p}");
            assert!(p.contains(want), "{written} ({parser_said}): {p}");
        }
    }
}
