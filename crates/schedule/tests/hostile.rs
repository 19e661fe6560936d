//! Hostile expressions: 30 000 mutations of valid expressions and random strings through the
//! parser and, when they parse, through `occurrences` in random zones: never a panic, every
//! refusal an error naming a field.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Utc};
use schedule::Schedule;

const SEEDS: &[&str] = &[
    "cron(0 12 * * ? *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(15 10 ? * 6L 2019-2022)",
    "cron(0 0 15W * ? *)",
    "cron(0 12 ? * 3#2 *)",
    "cron(0 22-1 L * ? 2030-2199)",
    "rate(1 minute)",
    "rate(15 minutes)",
    "at(2026-12-01T08:00:00)",
];
const ALPHABET: &[u8] = b"0123456789*?/,-#LW ()abcrtemnhuydsJANMONSUNFRI:T\t\x00\xff";
const ZONES: &[Option<&str>] = &[
    None,
    Some("Europe/Berlin"),
    Some("America/New_York"),
    Some("Australia/Sydney"),
    Some("Asia/Kathmandu"),
    Some("Pacific/Chatham"),
];

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            1 => {
                let i = rng.below(bytes.len() + 1);
                bytes.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
            }
            2 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes.remove(i);
            }
            _ => {
                let n = rng.below(12);
                bytes = (0..n)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect();
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_expressions_never_panic() {
    let mut rng = Rng(0x5eed_2026_1201);
    let after: DateTime<Utc> = "2026-03-29T00:30:00Z".parse().unwrap();
    let mut parsed = 0;
    for i in 0..30_000 {
        let text = mutate(&mut rng, SEEDS[i % SEEDS.len()]);
        let zone = ZONES[rng.below(ZONES.len())];
        match Schedule::new(&text, zone) {
            Ok(s) => {
                parsed += 1;
                let _ = s.occurrences(after, after, 3);
            }
            Err(e) => assert!(!e.field.is_empty() && !e.message.is_empty(), "{text:?}"),
        }
    }
    assert!(parsed > 300, "some mutations still parse: {parsed}");
}
