//! Vector databases: one module each. Their calls carry no token usage;
//! what they report (read/write units, result counts, server time) lands
//! in `ResponseInfo::vector`.

pub(crate) mod chroma;
pub(crate) mod milvus;
pub(crate) mod pinecone;
pub(crate) mod qdrant;
pub(crate) mod weaviate;
