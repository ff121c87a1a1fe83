#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod bound;
pub mod budget;
pub mod call;
pub mod civil;
pub mod defaults;
pub mod detect;
pub mod json;
pub mod messages;
pub mod parse;
pub mod price;
pub mod provider;
mod providers;
pub mod request;
pub mod semconv;
pub mod status;
pub mod timing;
pub mod url;
pub mod usage;
pub mod workflow_filter;

pub use detect::{Detection, Endpoint, ProviderRegistry};
pub use parse::{ResponseParser, parse_body};
pub use price::{Cost, ModelPrice, PriceCatalogue, PriceError, PriceMatch, PriceSource, PriceTier};
pub use provider::{BodyFormat, Flavor, Operation, Provider};
pub use request::{RequestInfo, peek_request};
pub use usage::{ModalityUsage, ResponseInfo, Usage, VectorUsage};
