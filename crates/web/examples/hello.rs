//! The baseline of the load benchmark: a bare axum server answering `hello` on the port
//! given (`cargo run --release -p aftercare-web --example hello -- 127.0.0.1:9001`), on the
//! same runtime settings and allocator as `aftercare serve`, so that the benchmark shows what the service
//! costs over the framework.

#![allow(
    clippy::expect_used,
    reason = "an example: failing loudly is its error handling"
)]

/// The allocator `aftercare` runs on.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::Router;
use axum::routing::get;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .expect("the address");
            println!("hello on http://{addr}/");
            axum::serve(
                listener,
                Router::new().route("/", get(|| async { "hello" })),
            )
            .await
            .expect("serving");
        });
}
