//! Arbitrary bytes into Constraint::parse, Version::parse, allows and Display: no panic,
//! no hang. The input is split at its first 0xff byte into (constraint, version).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poetry_constraints::{verdict, Constraint, Version};

fuzz_target!(|data: &[u8]| {
    let (c, v) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"1.0"[..]),
    };
    let c = String::from_utf8_lossy(c);
    let v = String::from_utf8_lossy(v);
    let _ = verdict(&c, &v);
    if let Ok(parsed) = Constraint::parse(&c) {
        let _ = Constraint::parse(&parsed.to_string());
    }
    if let Ok(version) = Version::parse(&v) {
        assert!(Version::parse(&version.to_string()).is_ok());
    }
});
