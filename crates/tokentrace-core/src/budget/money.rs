//! Money units: budget state counts micro-dollars.

/// Micro-dollars: budget state is kept in integers so that reservations
/// add up exactly and Redis can update them atomically (`HINCRBY`).
pub type Micros = i64;

/// USD to micro-dollars, rounded up (a reservation never rounds down).
pub fn usd_to_micros(usd: f64) -> Micros {
    if !usd.is_finite() || usd <= 0.0 {
        return 0;
    }
    let m = (usd * 1_000_000.0).ceil();
    if m >= i64::MAX as f64 {
        i64::MAX
    } else {
        m as i64
    }
}

/// Micro-dollars to USD.
pub fn micros_to_usd(m: Micros) -> f64 {
    m as f64 / 1_000_000.0
}
