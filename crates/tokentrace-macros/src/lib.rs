//! placeholder
use proc_macro::TokenStream;
