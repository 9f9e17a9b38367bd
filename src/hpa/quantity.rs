//! Kubernetes quantities (`250m`, `1`, `0.5`, `128Mi`, `1e3`, `12u`) as milli-values, the unit
//! the HPA controller computes in (`Quantity.MilliValue()`: millicores for CPU, thousandths of a
//! byte for memory).

/// The quantity's value times 1000, rounded up as `MilliValue()` rounds (towards +infinity);
/// `None` for text that is not a quantity or is negative.
pub fn milli_value(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, factor) = split_suffix(text)?;
    let value: f64 = number.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let milli = value * factor * 1000.0;
    // Round away float noise (0.1 * 1000 = 100.00000000000001) before rounding up.
    let rounded = (milli * 1e6).round() / 1e6;
    (rounded <= i64::MAX as f64).then(|| rounded.ceil() as i64)
}

/// The number and its suffix's factor: binary (`Ki`..`Ei`), decimal (`n`..`E`) or none.
fn split_suffix(text: &str) -> Option<(&str, f64)> {
    const SUFFIXES: [(&str, f64); 15] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    if text.is_empty() {
        return None;
    }
    // `1e3` ends in a digit, so it has no suffix; `1E` is exa.
    let found = SUFFIXES
        .iter()
        .find_map(|(s, f)| text.strip_suffix(s).map(|n| (n, *f)));
    match found {
        Some((number, factor)) if !number.is_empty() && !number.ends_with(['e', 'E']) => {
            Some((number, factor))
        }
        Some(_) => None,
        None => Some((text, 1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_as_milli_values() {
        assert_eq!(milli_value("250m"), Some(250));
        assert_eq!(milli_value("1"), Some(1000));
        assert_eq!(milli_value("0.5"), Some(500));
        assert_eq!(milli_value("0.1"), Some(100));
        assert_eq!(milli_value("123456789n"), Some(124)); // rounded up, as MilliValue()
        assert_eq!(milli_value("1500u"), Some(2));
        assert_eq!(milli_value("128Mi"), Some(134_217_728_000));
        assert_eq!(milli_value("1k"), Some(1_000_000));
        assert_eq!(milli_value("1e3"), Some(1_000_000));
        assert_eq!(milli_value("2E"), None); // beyond i64 milli-units
        assert_eq!(milli_value("3G"), Some(3_000_000_000_000));
        assert_eq!(milli_value(""), None);
        assert_eq!(milli_value("Mi"), None);
        assert_eq!(milli_value("-1"), None);
        assert_eq!(milli_value("x"), None);
    }
}
