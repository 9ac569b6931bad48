//! Names certsmith derives for the objects it creates: stable, so a step repeated after a
//! restart finds (or re-applies) the same object, and short enough for Kubernetes.

/// The first 8 bytes of SHA-256 of `input`, as 16 hex digits.
pub fn short_hash(input: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `<base>-<suffix>`, with `base` cut so the whole fits `max` characters (253 for most
/// objects, 63 where the name becomes a label value).
pub fn child(base: &str, suffix: &str, max: usize) -> String {
    let keep = base.len().min(max.saturating_sub(suffix.len() + 1));
    let base = base[..keep].trim_end_matches(['-', '.']);
    format!("{base}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_are_stable() {
        assert_eq!(child("web", "1", 253), "web-1");
        let long = "a".repeat(300);
        assert_eq!(child(&long, "12", 253).len(), 253);
        assert_eq!(child("ab-cd", "1", 5), "ab-1");
        assert_eq!(short_hash("x"), short_hash("x"));
        assert_ne!(short_hash("x"), short_hash("y"));
        assert_eq!(short_hash("x").len(), 16);
    }
}
