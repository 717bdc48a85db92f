//! Live registration (`looma serve <component> --register`, and `looma dev`): a subgraph
//! publishes its SDL and URL to the schema registry once it listens, heartbeats every
//! `registry.heartbeat_interval_ms`, registers again when the registry forgot it, and
//! deregisters when the platform stops. Calls are signed with `server.router_secret` as the
//! component, holding `schema:publish`.

use crate::LoomaConfig;
use crate::platform::Component;
use anyhow::{Context, Result};
use looma_auth::ForwardedPrincipalCodec;
use looma_server::ServiceClient;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const REGISTER: &str = "mutation Register($input: RegisterInstanceInput!) {
  registerInstance(input: $input) { instanceId supergraphVersion heartbeatIntervalMs }
}";
const HEARTBEAT: &str = "mutation Heartbeat($id: ID!) { heartbeat(instanceId: $id) }";
const DEREGISTER: &str = "mutation Deregister($id: ID!) { deregisterInstance(instanceId: $id) }";

/// The registry's GraphQL URL: `registry.url`, else this host's registry port.
pub fn registry_url(config: &LoomaConfig) -> String {
    config.registry.url.clone().unwrap_or_else(|| {
        format!(
            "http://{}/graphql",
            SocketAddr::new(
                crate::platform::reachable_host(config.server.host),
                config.registry.port
            )
        )
    })
}

/// The URL a component bound at `addr` is registered under.
pub fn advertised_url(config: &LoomaConfig, addr: SocketAddr) -> String {
    let host = config.registry.advertise_host.clone().unwrap_or_else(|| {
        match crate::platform::reachable_host(addr.ip()) {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    });
    format!("http://{host}:{}/graphql", addr.port())
}

/// Registers `component` (served at `url`) and keeps it registered until `stop`.
pub fn spawn(
    component: Component,
    url: String,
    config: &LoomaConfig,
    codec: Option<ForwardedPrincipalCodec>,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>> {
    let codec = codec.context(
        "registering with the schema registry (`--register`, `registry.register`) needs \
         `server.router_secret`: the registry trusts calls signed with it",
    )?;
    let client = ServiceClient::signed(
        looma_registry::COMPONENT,
        registry_url(config),
        codec,
        component.name(),
        &[looma_auth::permission::SCHEMA_PUBLISH],
    );
    let sdl = crate::sdl(component);
    let instance_id = format!("{}-{:016x}", component.name(), rand::random::<u64>());
    let every = Duration::from_millis(config.registry.heartbeat_interval_ms);
    let name = component.name();
    Ok(tokio::spawn(async move {
        let input = json!({ "input": {
            "subgraph": name, "url": url, "sdl": sdl, "instanceId": instance_id,
        }});
        let mut registered = false;
        // Failed registrations back off (a schema that does not compose would otherwise be
        // composed again every heartbeat), up to 30 s.
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            // A call in flight when the platform stops is abandoned (a registry that does not
            // answer must not hold the shutdown).
            let call = async {
                if registered {
                    match client.query(HEARTBEAT, json!({ "id": instance_id })).await {
                        Ok(data) if data["heartbeat"] == json!(false) => {
                            tracing::warn!(
                                component = name,
                                "the registry forgot this instance; registering again"
                            );
                            (false, 0)
                        }
                        Ok(_) => (true, 0),
                        Err(error) => {
                            tracing::warn!(component = name, %error, "heartbeat to the registry failed");
                            (true, 0)
                        }
                    }
                } else {
                    match client.query(REGISTER, input.clone()).await {
                        Ok(data) => {
                            tracing::info!(
                                component = name,
                                %url,
                                version = %data["registerInstance"]["supergraphVersion"],
                                "registered with the schema registry"
                            );
                            (true, 0)
                        }
                        Err(error) => {
                            tracing::warn!(component = name, %error, "registering with the schema registry; retrying");
                            (false, failures.saturating_add(1))
                        }
                    }
                }
            };
            let outcome = tokio::select! {
                outcome = call => outcome,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            (registered, failures) = outcome;
            let pause = if failures == 0 {
                every
            } else {
                (every * 2u32.saturating_pow(failures.min(6))).min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        if registered {
            let goodbye = client.query(DEREGISTER, json!({ "id": instance_id }));
            match tokio::time::timeout(Duration::from_secs(2), goodbye).await {
                Ok(Ok(_)) => tracing::info!(component = name, "deregistered"),
                _ => tracing::warn!(
                    component = name,
                    "deregistering timed out; the registry will remove this instance when its heartbeats stop"
                ),
            }
        }
    }))
}
