//! From logits to class probabilities and the best classes, without allocating.

/// Writes the softmax of `logits` into `probs` (same length).
pub fn softmax_into(logits: &[f32], probs: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (p, &l) in probs.iter_mut().zip(logits) {
        *p = (l - max).exp();
        sum += *p;
    }
    if sum > 0.0 {
        probs.iter_mut().for_each(|p| *p /= sum);
    }
}

/// The `K` largest values of `scores` as `(index, value)`, best first; ties
/// go to the lower index. Slots past `scores.len()` hold `(usize::MAX, -inf)`.
pub fn top_k<const K: usize>(scores: &[f32]) -> [(usize, f32); K] {
    let mut best = [(usize::MAX, f32::NEG_INFINITY); K];
    for (i, &s) in scores.iter().enumerate() {
        if K == 0 || !(s > best[K - 1].1 || best[K - 1].0 == usize::MAX) {
            continue;
        }
        let mut j = K - 1;
        while j > 0 && (s > best[j - 1].1 || best[j - 1].0 == usize::MAX) {
            best[j] = best[j - 1];
            j -= 1;
        }
        best[j] = (i, s);
    }
    best
}

/// Index of the largest value (the lowest index among ties); `None` when empty.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    top_k::<1>(scores)
        .first()
        .map(|b| b.0)
        .filter(|&i| i != usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut p = [0.0; 4];
        softmax_into(&[1.0, 3.0, 2.0, -1000.0], &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0] && p[3] < 1e-30);
    }

    #[test]
    fn top_k_orders_best_first() {
        assert_eq!(
            top_k::<3>(&[0.1, 0.5, 0.2, 0.5]),
            [(1, 0.5), (3, 0.5), (2, 0.2)]
        );
        let short = top_k::<3>(&[0.3]);
        assert_eq!(short[0], (0, 0.3));
        assert_eq!(short[1].0, usize::MAX);
        assert_eq!(argmax(&[]), None);
    }

    proptest! {
        #[test]
        fn top_k_matches_sort(v in proptest::collection::vec(-10.0f32..10.0, 1..40)) {
            let mut sorted: Vec<(usize, f32)> = v.iter().copied().enumerate().collect();
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let got = top_k::<5>(&v);
            for (g, s) in got.iter().zip(&sorted) {
                prop_assert_eq!(g, s);
            }
        }
    }
}
