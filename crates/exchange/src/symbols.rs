//! Unified symbols (`BASE/QUOTE`, e.g. `BTC/USDT`, `AAPL/USD`) and each venue's own spelling.

/// A venue's name for a unified symbol.
///
/// # Errors
/// A symbol that is not `BASE/QUOTE`, or a venue this layer does not know.
pub fn to_venue(venue: &str, symbol: &str) -> Result<String, String> {
    let (base, quote) = symbol
        .split_once('/')
        .filter(|(b, q)| !b.is_empty() && !q.is_empty() && !q.contains('/'))
        .ok_or_else(|| format!("'{symbol}' is not a BASE/QUOTE symbol (e.g. BTC/USDT)"))?;
    let (base, quote) = (base.to_ascii_uppercase(), quote.to_ascii_uppercase());
    Ok(match venue {
        "binance" => format!("{base}{quote}"),
        // Kraken calls bitcoin XBT in its pair names.
        "kraken" => {
            let fix = |a: &str| {
                if a == "BTC" {
                    "XBT".to_string()
                } else {
                    a.to_string()
                }
            };
            format!("{}{}", fix(&base), fix(&quote))
        }
        "coinbase" => format!("{base}-{quote}"),
        // Alpaca: crypto pairs keep the slash; stocks are the bare ticker, quoted in USD.
        "alpaca" if quote == "USD" && !is_crypto(&base) => base,
        "alpaca" => format!("{base}/{quote}"),
        other => {
            return Err(format!(
                "venue '{other}' is not known; use binance, kraken, coinbase or alpaca"
            ));
        }
    })
}

/// The unified symbol of a venue's name, for venues whose names can be split without a market
/// list (Coinbase `BTC-USD`, Alpaca `BTC/USD` or `AAPL`).
///
/// # Errors
/// A name that cannot be split for that venue (Binance and Kraken concatenate: use the
/// venue's market list).
pub fn from_venue(venue: &str, name: &str) -> Result<String, String> {
    match venue {
        "coinbase" => name
            .split_once('-')
            .map(|(b, q)| format!("{b}/{q}"))
            .ok_or_else(|| format!("'{name}' is not a Coinbase product id (BASE-QUOTE)")),
        "alpaca" if name.contains('/') => Ok(name.to_string()),
        "alpaca" => Ok(format!("{name}/USD")),
        other => Err(format!(
            "{other} names concatenate base and quote; map them with the venue's market list"
        )),
    }
}

fn is_crypto(base: &str) -> bool {
    matches!(
        base,
        "BTC"
            | "ETH"
            | "SOL"
            | "LTC"
            | "BCH"
            | "DOGE"
            | "AVAX"
            | "LINK"
            | "UNI"
            | "AAVE"
            | "DOT"
            | "SHIB"
            | "XRP"
            | "USDT"
            | "USDC"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_symbols_map_to_each_venue() {
        assert_eq!(to_venue("binance", "BTC/USDT").as_deref(), Ok("BTCUSDT"));
        assert_eq!(to_venue("kraken", "BTC/USD").as_deref(), Ok("XBTUSD"));
        assert_eq!(to_venue("kraken", "ETH/BTC").as_deref(), Ok("ETHXBT"));
        assert_eq!(to_venue("coinbase", "btc/usd").as_deref(), Ok("BTC-USD"));
        assert_eq!(to_venue("alpaca", "AAPL/USD").as_deref(), Ok("AAPL"));
        assert_eq!(to_venue("alpaca", "BTC/USD").as_deref(), Ok("BTC/USD"));
        assert!(to_venue("binance", "BTCUSDT").is_err());
        assert!(to_venue("ftx", "BTC/USD").is_err());
        assert_eq!(from_venue("coinbase", "ETH-EUR").as_deref(), Ok("ETH/EUR"));
        assert_eq!(from_venue("alpaca", "AAPL").as_deref(), Ok("AAPL/USD"));
        assert!(from_venue("binance", "BTCUSDT").is_err());
    }
}
