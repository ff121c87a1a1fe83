//! Code the fuzz targets share.

pub mod split_check;
