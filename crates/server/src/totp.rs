//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 30-second steps, 6 digits): what
//! authenticator apps (Google Authenticator, Aegis, 1Password) generate.
//!
//! Invariants: a code is accepted for the current step and one step either side (clock
//! drift); secrets are 160 random bits, shown to the user once as base32 (RFC 4648, no
//! padding) inside an `otpauth://` URI.

use hmac::{KeyInit, Mac};

/// Seconds per step.
const STEP: i64 = 30;

/// The 6-digit code for `secret` at Unix time `unix_s`.
pub(crate) fn code_at(secret: &[u8], unix_s: i64) -> u32 {
    let counter = u64::try_from(unix_s.div_euclid(STEP)).unwrap_or(0);
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    bin % 1_000_000
}

/// True when `code` (6 digits, spaces ignored) is valid for `secret` at `unix_s`.
pub(crate) fn verify(secret: &[u8], code: &str, unix_s: i64) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let Ok(given) = digits.parse::<u32>() else {
        return false;
    };
    (-1..=1).any(|k| code_at(secret, unix_s + k * STEP) == given)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 without padding.
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes [`base32`] (case-insensitive); `None` for other characters.
pub(crate) fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').chars() {
        let v = ALPHABET
            .iter()
            .position(|&a| char::from(a) == c.to_ascii_uppercase())?;
        buf = (buf << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buf >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B: secret "12345678901234567890", 8-digit codes; the 6-digit
        // code is the last six digits.
        let secret = b"12345678901234567890";
        for (t, eight) in [
            (59, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at(secret, t), eight % 1_000_000, "t = {t}");
        }
    }

    #[test]
    fn codes_of_the_neighbouring_steps_pass_and_others_fail() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = |t: i64| format!("{:06}", code_at(secret, t));
        assert!(verify(secret, &code(now), now));
        assert!(verify(secret, &code(now - 30), now));
        assert!(verify(secret, &code(now + 30), now));
        assert!(!verify(secret, &code(now - 90), now));
        assert!(!verify(secret, "12345", now));
        assert!(!verify(secret, "abcdef", now));
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(unbase32("mzxw6ytboi").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(unbase32("MZXW6YQ=").as_deref(), Some(&b"foob"[..]));
        assert!(unbase32("M1").is_none());
    }
}
