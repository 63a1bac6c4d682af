//! Scene 7: `gateway-myapp.yaml` at the ingress gateway, with `virtualservice-myapp.yaml`
//! bound to it: port 80 redirects to HTTPS (`httpsRedirect`), port 443 terminates TLS with
//! the certificate of `myapp-tls-secret` (generated for `myapp.example.com`) and routes to
//! myapp like the mesh does.

use std::net::SocketAddr;

use http::StatusCode;

use crate::demo::client::https_get;
use crate::demo::config::EXTERNAL;
use crate::demo::report::Check;
use crate::demo::world::World;

/// HTTPS requests per case.
const EACH: u32 = 20;

/// What scene 7 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gateway {
    /// `GET http://myapp.example.com/api/x` on port 80: the status (none: no answer).
    pub redirect_status: Option<u16>,
    /// Its `Location`.
    pub redirect_location: Option<String>,
    /// `GET https://myapp.example.com/api/x` on port 443, trusting only the Secret's
    /// certificate: sent.
    pub https_sent: u32,
    /// Answered 200 by myapp-v1 or myapp-v2.
    pub https_ok: u32,
    /// Of those, by myapp-v2.
    pub https_v2: u32,
    /// The first TLS or HTTP error, if any.
    pub https_error: Option<String>,
    /// The same with `x-version: v2`: sent, answered by myapp-v2.
    pub header_v2: (u32, u32),
}

// === impl Gateway ===

impl Gateway {
    /// The rows of scene 7.
    pub fn checks(&self) -> Vec<Check> {
        let want = format!("https://{EXTERNAL}/api/x");
        vec![
            Check::new(
                format!("http://{EXTERNAL}/api/x (port 80)"),
                format!("301 to {want}"),
                match (self.redirect_status, &self.redirect_location) {
                    (Some(s), Some(l)) => format!("{s} Location: {l}"),
                    (Some(s), None) => format!("{s}, no Location"),
                    (None, _) => "no answer".into(),
                },
                self.redirect_status == Some(301)
                    && self.redirect_location.as_deref() == Some(want.as_str()),
            ),
            Check::new(
                format!("{want} (port 443, x{})", self.https_sent),
                "TLS with myapp-tls-secret's certificate, routed to myapp",
                match &self.https_error {
                    Some(e) => format!("{}/{} answered; {e}", self.https_ok, self.https_sent),
                    None => format!(
                        "{}/{} answered 200 over TLS verified as {EXTERNAL} (v1 {}, v2 {})",
                        self.https_ok,
                        self.https_sent,
                        self.https_ok - self.https_v2,
                        self.https_v2
                    ),
                },
                self.https_sent > 0 && self.https_ok == self.https_sent,
            ),
            Check::new(
                "same, x-version: v2",
                "all to v2 (rule 0)",
                format!(
                    "{}/{} answered by myapp-v2",
                    self.header_v2.1, self.header_v2.0
                ),
                self.header_v2.0 > 0 && self.header_v2.1 == self.header_v2.0,
            ),
        ]
    }
}

/// Runs scene 7 against the ingress gateway's listeners.
pub async fn run(world: &World) -> Gateway {
    let gw = world.pod("istio-ingressgateway");
    let port = |p: u16| -> Option<SocketAddr> {
        gw.gateway.iter().find(|(n, _)| *n == p).map(|(_, a)| *a)
    };
    let mut out = Gateway::default();
    if let Some(http) = port(80) {
        let answer = world.client().get(http, EXTERNAL, "/api/x", &[]).await;
        if let Ok(a) = answer {
            out.redirect_status = Some(a.status.as_u16());
            out.redirect_location = a.location;
        }
    }
    let Some(https) = port(443) else {
        return out;
    };
    let root = &world.generated.tls_cert;
    for (headers, v2_only) in [(&[][..], false), (&[("x-version", "v2")][..], true)] {
        for _ in 0..EACH {
            let answer = https_get(https, EXTERNAL, root, "/api/x", headers).await;
            let (sent, hits) = if v2_only {
                (&mut out.header_v2.0, &mut out.header_v2.1)
            } else {
                (&mut out.https_sent, &mut out.https_ok)
            };
            *sent += 1;
            match answer {
                Ok(a) if a.status == StatusCode::OK && a.body.starts_with("myapp-v") => {
                    let to_v2 = a.body == "myapp-v2";
                    if v2_only {
                        *hits += u32::from(to_v2);
                    } else {
                        *hits += 1;
                        out.https_v2 += u32::from(to_v2);
                    }
                }
                Ok(a) => {
                    out.https_error
                        .get_or_insert_with(|| format!("{} {:?}", a.status, a.body));
                }
                Err(e) => {
                    out.https_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
    out
}
