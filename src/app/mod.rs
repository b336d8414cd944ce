//! Use cases shared by REST, the WebSocket gateway and the console: one path for each thing
//! a client or the admin can do, whichever door it came through. Every use case takes an
//! [`actor::Actor`], asks [`policy`] and the quotas, and publishes to the hub itself:
//! `http/` and `gateway/` never reach the store or publish.

pub mod acks;
pub mod actor;
pub mod admin;
pub mod agora;
pub mod background;
pub mod catchup;
pub mod client_blocks;
pub mod client_conversations;
pub mod client_history;
pub mod client_query;
pub mod client_sign;
pub mod clients;
pub mod conversation_info;
pub mod conversations;
pub mod directory;
pub mod fields;
pub mod files;
pub mod history;
pub mod hooks;
pub mod member_roles;
pub mod membership;
pub mod moderation;
pub mod moderation_admin;
pub mod notifications;
pub mod patch;
pub mod policy;
pub mod push;
pub mod quota;
pub mod reads;
pub mod render;
pub mod revocation;
pub mod send;
pub mod service;
pub mod session_token;
pub mod sessions;
pub mod signatures;
pub mod silence_cache;
pub mod startup;
pub mod subscriptions;
pub mod uplink;
