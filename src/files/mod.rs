//! Files (LeanStorage `_File`): where their bytes live and the rules for their names.
//!
//! - `storage`: the bytes, behind `object_store` (a local folder by default, S3-compatible
//!   storage for production), each app's files under their own prefix.
//! - `naming`: storage keys, safe names, MIME types, and which types are served inline.
//! - `range`: the `Range` header of downloads (audio and video seek).
//!
//! The metadata (name, size, type, owner, checksum) is in the database (`store::files`); the
//! use cases that tie both together are in `app::files`.

pub mod naming;
pub mod range;
pub mod storage;

pub use storage::FileStorage;
