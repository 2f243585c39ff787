//! Request signing, exactly as each venue documents it. Every function is tested against
//! the worked example in that venue's official API documentation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Binance SIGNED endpoints: hex HMAC-SHA256 of the query string (or form body) with the
/// API secret; sent as the `signature` parameter with the key in `X-MBX-APIKEY`.
pub fn binance(secret: &str, payload: &str) -> String {
    // HMAC accepts a key of any length: this cannot fail.
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable_hmac());
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A bad Kraken secret (it must be the base64 text the venue issued).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the Kraken API secret is not base64; paste it exactly as Kraken shows it")]
pub struct BadSecret;

/// Kraken private REST endpoints (`API-Sign` header): base64 of
/// HMAC-SHA512(base64-decoded secret, URI path || SHA-256(nonce || POST data)).
///
/// # Errors
/// [`BadSecret`] when the secret is not base64.
pub fn kraken(
    secret_b64: &str,
    uri_path: &str,
    nonce: &str,
    post_data: &str,
) -> Result<String, BadSecret> {
    let key = STANDARD.decode(secret_b64.trim()).map_err(|_| BadSecret)?;
    let mut sha = Sha256::new();
    sha.update(nonce.as_bytes());
    sha.update(post_data.as_bytes());
    let inner = sha.finalize();
    let mut mac = hmac::Hmac::<Sha512>::new_from_slice(&key).unwrap_or_else(|_| unreachable_hmac());
    mac.update(uri_path.as_bytes());
    mac.update(&inner);
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// Alpaca: no signature; the key pair travels in two headers on every request.
pub fn alpaca_headers(key_id: &str, secret: &str) -> [(&'static str, String); 2] {
    [
        ("APCA-API-KEY-ID", key_id.to_string()),
        ("APCA-API-SECRET-KEY", secret.to_string()),
    ]
}

fn unreachable_hmac() -> ! {
    // `new_from_slice` of an HMAC only fails for key lengths HMAC does not restrict.
    panic!("invariant: HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance spot API docs, "SIGNED (TRADE and USER_DATA) Endpoint security", example 1
    /// (all parameters in the query string) and the example with Unicode (percent-encoded)
    /// parameters.
    #[test]
    fn binance_matches_the_documented_examples() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        assert_eq!(
            binance(
                secret,
                "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            ),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert_eq!(
            binance(
                secret,
                "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            ),
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
        );
    }

    /// Kraken docs, "Spot REST API authentication", the worked AddOrder example.
    #[test]
    fn kraken_matches_the_documented_example() {
        let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
        let body =
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
        assert_eq!(
            kraken(secret, "/0/private/AddOrder", "1616492376594", body).as_deref(),
            Ok(
                "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
            )
        );
        // The path and the nonce are part of what is signed.
        assert_ne!(
            kraken(secret, "/0/private/Balance", "1616492376594", body),
            kraken(secret, "/0/private/AddOrder", "1616492376594", body)
        );
        assert_eq!(
            kraken("not base64!", "/0/private/Balance", "1", "nonce=1"),
            Err(BadSecret)
        );
    }

    #[test]
    fn alpaca_sends_the_key_pair_in_headers() {
        let h = alpaca_headers("AKID", "SECRET");
        assert_eq!(h[0], ("APCA-API-KEY-ID", "AKID".to_string()));
        assert_eq!(h[1], ("APCA-API-SECRET-KEY", "SECRET".to_string()));
    }
}
