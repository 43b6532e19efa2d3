//! The sse example as a Lambda (build for `provided.al2023`; see docs/deploy.md).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_relay::lambda::run(lambda_relay_examples::sse).await
}
