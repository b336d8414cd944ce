//! LeanCloud's conversation signatures (`rest-semantics.md` 8.1), verified when the app
//! sets `conversation_signature_required`: HMAC-SHA1 with the master key over
//! `appid:clientid:sorted_member_ids:timestamp:nonce` for `conv start`, and
//! `appid:clientid:convid:sorted_member_ids:timestamp:nonce:action` (`invite` for joins
//! and invites, `kick` for removing others). Valid for six hours, in seconds or
//! milliseconds; void when issued before a forced kick of the client.

use crate::app::actor::ClientSession;
use crate::domain::signature;
use crate::error::{code, Error, Result};
use crate::state::AppState;

/// The `s`, `t`, `n` fields a signed command carries.
#[derive(Debug, Clone, Default)]
pub struct Signed {
    pub signature: Option<String>,
    pub timestamp: Option<i64>,
    pub nonce: Option<String>,
}

/// What the signature is for.
pub enum Signing<'a> {
    Create {
        members: &'a [String],
    },
    Member {
        conv_id: &'a str,
        members: &'a [String],
        action: &'static str,
    },
}

pub const INVITE: &str = "invite";
pub const KICK: &str = "kick";

/// A blacklist change (`blacklist block/unblock`, either side) signed as a member action
/// on `conv_id`: a refusal is LeanCloud's blacklist code (4546), not the conversation one.
pub fn verify_blacklist(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    members: &[String],
    action: &'static str,
    signed: &Signed,
) -> Result<()> {
    verify(
        state,
        session,
        Signing::Member {
            conv_id,
            members,
            action,
        },
        signed,
    )
    .map_err(|_| {
        Error::forbidden(
            code::BLACKLIST_SIGNATURE_FAILED,
            "Blacklist signature verification failed.",
        )
    })
}

/// Checks the signature when the app requires one; `4302` when it is missing or wrong.
pub fn verify(
    state: &AppState,
    session: &ClientSession,
    signing: Signing<'_>,
    signed: &Signed,
) -> Result<()> {
    let app = &session.app;
    if !app.settings.conversation_signature_required {
        return Ok(());
    }
    let refused = || {
        Error::forbidden(
            code::CONVERSATION_SIGNATURE_FAILED,
            "Conversation signature verification failed.",
        )
    };
    let (Some(given), Some(t), Some(nonce)) = (
        signed.signature.as_deref(),
        signed.timestamp,
        signed.nonce.as_deref(),
    ) else {
        return Err(refused());
    };
    let at = signature::timestamp_ms(t);
    let now = crate::domain::time::now_ms();
    if (now - at).abs() > signature::REALTIME_SIGNATURE_TTL_MS
        || state
            .revocations
            .is_revoked(&app.app_id, &session.client, at)
    {
        return Err(refused());
    }
    let t = t.to_string();
    let given = given.to_ascii_lowercase();
    let matches = |members: &[String], with_conv: Option<(&str, &str)>| {
        let mut sorted = members.to_vec();
        sorted.sort();
        sorted.dedup();
        let joined = sorted.join(":");
        let expected = match with_conv {
            None => signature::realtime_sign(
                &app.master_key,
                &[&app.app_id, &session.client, &joined, &t, nonce],
            ),
            Some((conv, action)) => signature::realtime_sign(
                &app.master_key,
                &[
                    &app.app_id,
                    &session.client,
                    conv,
                    &joined,
                    &t,
                    nonce,
                    action,
                ],
            ),
        };
        signature::same(&given, &expected)
    };
    let ok = match signing {
        // SDKs sign the member list they send, with or without the creator itself.
        Signing::Create { members } => {
            let mut with_self = members.to_vec();
            with_self.push(session.client.to_string());
            matches(members, None) || matches(&with_self, None)
        }
        // JS SDK 4.x hands its factory `add`/`remove` for `invite`/`kick`: either is taken.
        Signing::Member {
            conv_id,
            members,
            action,
        } => {
            let legacy = if action == INVITE { "add" } else { "remove" };
            matches(members, Some((conv_id, action))) || matches(members, Some((conv_id, legacy)))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(refused())
    }
}
