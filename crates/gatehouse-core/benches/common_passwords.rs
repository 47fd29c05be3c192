//! A2: what the common-password list costs: loading it (decompress, hash, sort) at start,
//! and one lookup, for a password on the list and one that is not.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::password::CommonPasswords;

fn bench(c: &mut Criterion) {
    let list = CommonPasswords::load();
    eprintln!("common passwords: {} entries, {} bytes loaded", list.len(), list.memory_bytes());
    assert!(list.contains("Password1234") && !list.contains("tangerine-orbit-delta"), "a hit and a miss");
    c.bench_function("common_passwords/load", |b| b.iter(CommonPasswords::load));
    c.bench_function("common_passwords/lookup_hit", |b| b.iter(|| list.contains(std::hint::black_box("Password1234"))));
    c.bench_function("common_passwords/lookup_miss", |b| {
        b.iter(|| list.contains(std::hint::black_box("tangerine-orbit-delta")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
