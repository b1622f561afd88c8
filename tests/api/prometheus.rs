//! A strict reader of the Prometheus text format (0.0.4), as Prometheus' own parser reads it:
//! names and label syntax, TYPE before a family's samples and once, each family in one group,
//! no series twice, histograms cumulative and ending in `+Inf` equal to `_count`.
use std::collections::{BTreeMap, BTreeSet};

/// A scrape's series, by family: the sample name plus its labels, as written.
pub type Families = BTreeMap<String, BTreeSet<String>>;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `k="v",…` into pairs; `Err` on any syntax the format does not allow.
fn labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(format!("no '=' in {rest:?}"))?;
        let key = &rest[..eq];
        if !valid_name(key) || key.starts_with("__") {
            return Err(format!("bad label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("label {key} is not quoted"));
        }
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {key}")),
                },
                '"' => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                '\n' => return Err("newline in a label value".into()),
                c => value.push(c),
            }
        }
        let end = end.ok_or(format!("unterminated value of {key}"))?;
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("label {key} twice"));
        }
        out.push((key.to_string(), value));
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
        if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(format!("junk after a label: {rest:?}"));
        }
    }
    Ok(out)
}

fn value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| format!("bad value {text:?}")),
    }
}

/// The family a sample belongs to, given the TYPEs seen.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| {
            types
                .get(*base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        })
}

/// Parses a whole scrape strictly; `Err` says which line broke which rule.
pub fn parse(text: &str) -> Result<Families, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut families = Families::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    // Histogram series: (family, labels without le) -> [(le, cumulative)], and their _count.
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words.as_slice() {
                ["TYPE", name, kind] => {
                    if !valid_name(name) {
                        return Err(at("bad metric name".into()));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(kind) {
                        return Err(at(format!("unknown type {kind}")));
                    }
                    if types.insert(name.to_string(), kind.to_string()).is_some()
                        || families.contains_key(*name)
                    {
                        return Err(at("TYPE twice or after samples".into()));
                    }
                }
                ["HELP", name, ..] if !valid_name(name) => {
                    return Err(at("bad metric name".into()));
                }
                _ => {}
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let (series, rest) = match line.find('{') {
            Some(_) => {
                let close = line.rfind('}').ok_or_else(|| at("no '}'".into()))?;
                (&line[..close + 1], &line[close + 1..])
            }
            None => line.split_at(line.find(' ').ok_or_else(|| at("no value".into()))?),
        };
        let name = series.split('{').next().unwrap_or_default();
        if !valid_name(name) {
            return Err(at("bad metric name".into()));
        }
        let pairs = match series.find('{') {
            Some(open) => labels(&series[open + 1..series.len() - 1]).map_err(at)?,
            None => Vec::new(),
        };
        let mut parts = rest.split_whitespace();
        let v = value(parts.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        let family = family_of(name, &types).unwrap_or(name).to_string();
        if current.as_deref() != Some(family.as_str()) {
            if let Some(done) = current.replace(family.clone()) {
                finished.insert(done);
            }
            if finished.contains(&family) {
                return Err(at(format!("family {family} is split in two groups")));
            }
        }
        if !families
            .entry(family.clone())
            .or_default()
            .insert(series.to_string())
        {
            return Err(at("the same series twice".into()));
        }
        if types.get(&family).is_some_and(|t| t == "histogram") {
            let others: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k != "le")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let key = (family.clone(), others.join(","));
            if name.ends_with("_bucket") {
                let le = pairs
                    .iter()
                    .find(|(k, _)| k == "le")
                    .ok_or_else(|| at("a bucket without le".into()))?;
                let le = value(&le.1).map_err(at)?;
                buckets.entry(key).or_default().push((le, v));
            } else if name.ends_with("_count") {
                counts.insert(key, v);
            }
        }
    }
    for (key, series) in &buckets {
        let sorted = series
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        let last = series.last().copied().unwrap_or((0.0, 0.0));
        if !sorted || last.0 != f64::INFINITY || counts.get(key) != Some(&last.1) {
            return Err(format!(
                "histogram {key:?} is not cumulative up to +Inf = _count"
            ));
        }
    }
    Ok(families)
}

#[test]
fn the_reader_refuses_what_prometheus_refuses() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("a{b=\"c\\\"d\"} 1\n").is_ok());
    for bad in [
        "a 1",                                       // no final newline
        "a{b=c} 1\n",                                // unquoted
        "a{b=\"c\"} x\n",                            // not a number
        "# TYPE a counter\n# TYPE a counter\na 1\n", // TYPE twice
        "a 1\nb 1\na 2\n",                           // split family (and twice)
        "a{b=\"\\x\"} 1\n",                          // bad escape
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
