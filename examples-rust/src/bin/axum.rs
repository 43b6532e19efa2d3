//! The axum app as a Lambda: `run_service` takes the Router as it is. With `LOCAL_PORT` set it
//! serves on 127.0.0.1 as a local Function URL instead (the end-to-end tests run it so).

use lambda_relay::lambda::{from_service, run_service, RelayConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let router = lambda_relay_examples::axum_app();
    let Ok(port) = std::env::var("LOCAL_PORT") else {
        return run_service(router).await;
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    println!("listening on 127.0.0.1:{}", listener.local_addr()?.port());
    lambda_relay::local::serve(listener, RelayConfig::from_env(), from_service(router)).await?;
    Ok(())
}
