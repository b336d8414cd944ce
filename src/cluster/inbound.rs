//! Frames from other nodes, applied to this node: pushes delivered to local sessions,
//! control carried out locally, presence folded into the replica.

use super::presence::Applied;
use super::wire::{Body, Frame, Target};
use super::Cluster;
use crate::hub::Recipients;
use crate::state::AppState;
use base64::Engine;

pub(super) fn handle(state: &AppState, cluster: &Cluster, payload: &[u8]) {
    let Some(frame) = Frame::decode(payload) else {
        tracing::debug!("undecodable cluster frame ignored");
        return;
    };
    if frame.from == cluster.node {
        return;
    }
    let from = frame.from;
    match frame.body {
        Body::Deliver {
            app,
            to,
            body,
            skip_client,
        } => {
            let Ok(body) = base64::engine::general_purpose::STANDARD.decode(body) else {
                return;
            };
            let recipients = match to {
                Target::Clients(clients) => Recipients::Clients(clients),
                Target::Room(room) => Recipients::ChatRoom(room),
                Target::Everyone => Recipients::Everyone,
            };
            state
                .hub
                .deliver_encoded(&app, &recipients, body.into(), skip_client.as_deref());
        }
        Body::Kick {
            app,
            clients,
            code,
            reason,
        } => state.hub.kick_local(&app, clients, code, &reason),
        Body::Close {
            app,
            client,
            session,
            code,
            reason,
        } => {
            state
                .hub
                .close_local_session(&app, &client, session, code, &reason);
        }
        Body::Presence { seq, ops } => {
            if cluster.replica.apply(&from, seq, ops) == Applied::NeedSnapshot {
                cluster.send_to(&from, Body::Want);
            }
        }
        Body::Snapshot {
            seq,
            sessions,
            part,
            parts,
        } => cluster
            .replica
            .snapshot_part(&from, seq, part, parts, sessions),
        Body::Beat { seq } => {
            if cluster.replica.beat(&from, seq) == Applied::NeedSnapshot {
                cluster.send_to(&from, Body::Want);
            }
        }
        Body::Want => cluster.snapshot_wanted(|| state.hub.local_sessions()),
        Body::Bye => cluster.replica.forget(&from),
        Body::Revoke { app, client, at } => state.revocations.remember(&app, &client, at),
        Body::Members { app, conv } => state.store.forget_members(&app, &conv),
        Body::Silences { app, conv } => state.silences.forget(&app, &conv),
        Body::App { app } => state.apps.invalidate(&app),
        Body::Receipt { app, msg } => state.hub.want_receipt_here(&app, &msg),
        Body::AwaitAck { app, msg, dest } => cluster.remember_wait(&from, app, msg, dest),
        Body::Acked { app, msg, client } => state.acks.acknowledged(&app, &msg, &client),
    }
}
