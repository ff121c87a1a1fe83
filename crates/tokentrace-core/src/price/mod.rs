//! Price catalogue and cost arithmetic.
//!
//! OWNED BY THE PRICES HELPER: placeholder API, to be implemented.
