//! Summaries over seeds: the one mean and standard deviation of the study's tables.

/// Mean and **sample** standard deviation (n − 1 in the denominator) of the present values; the std is `None`
/// below two values, and both are `None` without any.
pub fn mean_std_sample(values: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let xs: Vec<f64> = values.iter().flatten().copied().collect();
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (Some(mean), None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (Some(mean), Some(var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std_with_n_minus_one() {
        // numpy: np.std([1, 2, 3, 4], ddof=1) = 1.2909944487358056
        let (m, s) = mean_std_sample(&[Some(1.0), Some(2.0), None, Some(3.0), Some(4.0)]);
        assert_eq!(m, Some(2.5));
        assert!((s.unwrap_or(0.0) - 1.290_994_448_735_805_6).abs() < 1e-15);
        assert_eq!(mean_std_sample(&[Some(7.0)]), (Some(7.0), None));
        assert_eq!(mean_std_sample(&[None]), (None, None));
    }
}
