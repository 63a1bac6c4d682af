//! Scene 4: `virtualservice-mirror.yaml`: every request goes to v1 and a copy to v2, whose
//! answer nobody waits for.

use std::time::Duration;

use super::{Sizes, drive};
use crate::demo::config::MYAPP;
use crate::demo::report::Check;
use crate::demo::world::World;

/// What scene 4 observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mirror {
    /// Requests sent.
    pub sent: u32,
    /// Answered by myapp-v1.
    pub answered_by_v1: u32,
    /// Answered by myapp-v2 (should be none).
    pub answered_by_v2: u32,
    /// Requests myapp-v2's application received meanwhile: the copies.
    pub copies_at_v2: u64,
}

// === impl Mirror ===

impl Mirror {
    /// The rows of scene 4.
    pub fn checks(&self) -> Vec<Check> {
        vec![
            Check::new(
                format!("GET /api/orders (x{})", self.sent),
                "clients see v1 only",
                format!(
                    "{} answered by v1, {} by v2",
                    self.answered_by_v1, self.answered_by_v2
                ),
                self.sent > 0 && self.answered_by_v1 == self.sent,
            ),
            Check::new(
                "",
                "a copy of each at v2 (100%)",
                format!("{} copies arrived at myapp-v2", self.copies_at_v2),
                self.copies_at_v2 > 0 && self.copies_at_v2 * 100 >= u64::from(self.sent) * 95,
            ),
        ]
    }
}

/// Runs scene 4 through frontend's sidecar.
pub async fn run(world: &World, sizes: &Sizes) -> Mirror {
    let via = world.outbound("frontend");
    let client = world.client().clone();
    let v2 = &world.pod("myapp-v2").app;
    let before = v2.hits();
    let answers = drive(sizes.mirror, 4, move |_| {
        let client = client.clone();
        async move {
            client
                .get(via, MYAPP, "/api/orders", &[])
                .await
                .map_or(String::new(), |a| a.body)
        }
    })
    .await;
    // Copies are sent alongside; give the last ones a moment to land.
    let sent = answers.len() as u64;
    for _ in 0..50 {
        if v2.hits() - before >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Mirror {
        sent: answers.len() as u32,
        answered_by_v1: answers.iter().filter(|b| *b == "myapp-v1").count() as u32,
        answered_by_v2: answers.iter().filter(|b| *b == "myapp-v2").count() as u32,
        copies_at_v2: v2.hits() - before,
    }
}
