//! Caps on open WebSockets, per process and per source IP, checked before the upgrade so a
//! refused client costs one HTTP response. A granted slot is an [`Admitted`] guard that the
//! connection task holds; dropping it frees the slot.

use crate::error::Error;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Seconds a refused client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: u64 = 5;

pub struct Admission {
    max_total: usize,
    /// 0: no per-IP cap.
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection's slot.
pub struct Admitted {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Admission {
    pub fn new(max_total: usize, max_per_ip: usize) -> Admission {
        Admission {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
        }
    }

    /// A slot for a connection from `ip`, or 429 when either cap is reached.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Admitted, Error> {
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            tracing::warn!(
                open = open.total,
                "WebSocket refused: process connection cap"
            );
            return Err(Error::TooManyRequests {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        if let (Some(ip), true) = (ip, self.max_per_ip > 0) {
            let from_ip = open.per_ip.entry(ip).or_default();
            if *from_ip >= self.max_per_ip {
                tracing::warn!(%ip, "WebSocket refused: per-IP connection cap");
                return Err(Error::TooManyRequests {
                    retry_after_secs: RETRY_AFTER_SECS,
                });
            }
            *from_ip += 1;
        }
        open.total += 1;
        Ok(Admitted {
            admission: Arc::clone(self),
            ip: ip.filter(|_| self.max_per_ip > 0),
        })
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.lock().total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(count) = open.per_ip.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.per_ip.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_dropped_slots_come_back() {
        let admission = Arc::new(Admission::new(3, 2));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = admission.admit(Some(a));
        let second = admission.admit(Some(a));
        assert!(first.is_ok() && second.is_ok());
        assert!(admission.admit(Some(a)).is_err(), "per-IP cap");
        let third = admission.admit(Some(b));
        assert!(third.is_ok());
        assert!(admission.admit(Some(b)).is_err(), "process cap");
        drop(first);
        assert_eq!(admission.open(), 2);
        assert!(admission.admit(Some(a)).is_ok());
        assert!(admission.open.lock().per_ip.len() <= 2);
    }
}
