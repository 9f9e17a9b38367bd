//! Kubernetes quantities (`250m`, `1`, `0.5`, `128Mi`, `1e3`, `12u`) as milli-values, the unit
//! the HPA controller computes in (`Quantity.MilliValue()`: millicores for CPU, thousandths of a
//! byte for memory).

/// The quantity's value in units of `10^unit_exp10` (`-3`: milli-units, so `250m` is 250.0;
/// `0`: `128Mi` is 134217728.0); `None` for text that is not a quantity or is negative. Decimal
/// suffixes scale by exact powers of ten (a division where it shrinks), so `123456789n` in
/// milli-units is exactly 123.456789. The one parser of quantities: `cluster::checks` reads
/// pods' CPU and memory through it too.
pub fn value_in(text: &str, unit_exp10: i32) -> Option<f64> {
    let (number, suffix) = split_suffix(text.trim())?;
    let number: f64 = number.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let (binary, exp10) = match suffix {
        Suffix::Binary(factor) => (factor, 0),
        Suffix::Decimal(exp) => (1.0, exp),
    };
    let shift = exp10 - unit_exp10;
    let value = number * binary;
    Some(if shift >= 0 {
        value * 10f64.powi(shift)
    } else {
        value / 10f64.powi(-shift)
    })
}

/// The quantity's value times 1000, rounded up as `MilliValue()` rounds (towards +infinity);
/// `None` for text that is not a quantity or is negative.
pub fn milli_value(text: &str) -> Option<i64> {
    let milli = value_in(text, -3)?;
    // Round away float noise (0.1 * 1000 = 100.00000000000001) before rounding up.
    let rounded = (milli * 1e6).round() / 1e6;
    (rounded <= i64::MAX as f64).then(|| rounded.ceil() as i64)
}

/// A quantity's suffix: a binary factor (`Ki`..`Ei`) or a decimal exponent (`n`..`E`, none = 0).
#[derive(Clone, Copy)]
enum Suffix {
    Binary(f64),
    Decimal(i32),
}

/// The number and its suffix.
fn split_suffix(text: &str) -> Option<(&str, Suffix)> {
    const SUFFIXES: [(&str, Suffix); 15] = [
        ("Ki", Suffix::Binary(1024.0)),
        ("Mi", Suffix::Binary(1_048_576.0)),
        ("Gi", Suffix::Binary(1_073_741_824.0)),
        ("Ti", Suffix::Binary(1_099_511_627_776.0)),
        ("Pi", Suffix::Binary(1_125_899_906_842_624.0)),
        ("Ei", Suffix::Binary(1_152_921_504_606_846_976.0)),
        ("n", Suffix::Decimal(-9)),
        ("u", Suffix::Decimal(-6)),
        ("m", Suffix::Decimal(-3)),
        ("k", Suffix::Decimal(3)),
        ("M", Suffix::Decimal(6)),
        ("G", Suffix::Decimal(9)),
        ("T", Suffix::Decimal(12)),
        ("P", Suffix::Decimal(15)),
        ("E", Suffix::Decimal(18)),
    ];
    if text.is_empty() {
        return None;
    }
    // `1e3` ends in a digit, so it has no suffix; `1E` is exa.
    let found = SUFFIXES
        .iter()
        .find_map(|(s, f)| text.strip_suffix(s).map(|n| (n, *f)));
    match found {
        Some((number, suffix)) if !number.is_empty() && !number.ends_with(['e', 'E']) => {
            Some((number, suffix))
        }
        Some(_) => None,
        None => Some((text, Suffix::Decimal(0))),
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
