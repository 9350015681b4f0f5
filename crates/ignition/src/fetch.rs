//! Getting the bytes of a resource: fetched, decompressed, verified.

use ferro_spec::Resource;

/// Why a resource could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source could not be read (network, file, server status).
    #[error("failed to fetch {url}: {reason}")]
    Failed {
        /// The source URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The data does not match `verification.hash`.
    #[error("hash mismatch for {url}: calculated {calculated}, expected {expected}")]
    HashMismatch {
        /// The source URL.
        url: String,
        /// What the data hashes to.
        calculated: String,
        /// What the config says.
        expected: String,
    },
}

/// Something that can get the bytes of a resource: the real fetcher, or a test double.
pub trait Fetch {
    /// The resource's data, decompressed and verified; `None` when the resource has no
    /// source (a file without contents).
    fn fetch(&self, resource: &Resource) -> Result<Option<Vec<u8>>, FetchError>;
}
