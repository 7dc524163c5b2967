//! Random identifiers: the run id, replication ids, cluster node ids and ACL GENPASS
//! passwords, all as Redis draws them (lowercase hex).

/// `n` random lowercase hex digits.
pub fn random_hex(n: usize) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect()
}
