//! Client-side health checking of one server (gRFC A17): a `Watch` call on its channel, made
//! again after a backoff when it ends, whose answers say whether the server takes calls.

use std::cell::Cell;
use std::rc::Rc;

use super::{HealthCheckRequest, HealthClient, ServingStatus};
use crate::status::Code;
use crate::transport::Channel;
use crate::transport::balancer::{Changes, Health, ServerHealth};

/// The checking of one server: the task running the watch, cancelled when this is dropped.
struct Checking {
    health: Rc<Cell<Health>>,
    _watch: crate::runtime::Task<()>,
}

impl ServerHealth for Checking {
    fn health(&self) -> Health {
        self.health.get()
    }
}

/// Starts watching `channel`'s health for `service` (see [`ServerHealth`]).
pub(super) fn start(
    channel: &Channel,
    service: &str,
    changes: Rc<Changes>,
) -> Box<dyn ServerHealth> {
    let health = Rc::new(Cell::new(Health::Pending));
    let watch = watch(channel.clone(), service.to_owned(), health.clone(), changes);
    Box::new(Checking {
        health,
        _watch: crate::runtime::spawn(watch),
    })
}

/// Watches until the server says it has no health service: each answer sets `health`, and a
/// watch that ends or fails sets it to not serving and is made again after the connection
/// backoff (`crate::backoff`; an answer resets it).
async fn watch(channel: Channel, service: String, health: Rc<Cell<Health>>, changes: Rc<Changes>) {
    let set = |new: Health| {
        if health.replace(new) != new {
            changes.notify();
        }
    };
    let mut client = HealthClient::new(channel);
    // The backoff that last applied; `None` after an answer.
    let mut backoff = None;
    loop {
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        let ended = match client.watch(request).await {
            Ok(response) => {
                let mut answers = response.into_inner();
                loop {
                    match answers.message().await {
                        Ok(Some(answer)) => {
                            backoff = None;
                            set(match answer.status() {
                                ServingStatus::Serving => Health::Serving,
                                _ => Health::NotServing,
                            });
                        }
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        };
        if ended
            .as_ref()
            .is_some_and(|s| s.code() == Code::Unimplemented)
        {
            // A17: a server without the health service is not health-checked.
            set(Health::Serving);
            return;
        }
        set(Health::NotServing);
        let next = crate::backoff::next(backoff);
        backoff = Some(next);
        crate::time::sleep(crate::backoff::jittered(next)).await;
    }
}
