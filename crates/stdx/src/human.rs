//! Sizes and durations written for people, as progress lines and summaries print them.

/// `999 B`, `20.3 MB`, `1.2 GB` (powers of 1,000, one decimal).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    // Precision loss is fine: the value is only printed with one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1000.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// `42 s`, `3 min 05 s`, `1 h 02 min` (negative times count as zero).
pub fn seconds(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(20_279_490), "20.3 MB");
        assert_eq!(bytes(1_234_000_000), "1.2 GB");
        assert_eq!(seconds(-3.0), "0 s");
        assert_eq!(seconds(42.4), "42 s");
        assert_eq!(seconds(185.0), "3 min 05 s");
        assert_eq!(seconds(3720.0), "1 h 02 min");
    }
}
