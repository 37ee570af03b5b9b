//! S3 uploads (JMeter scripts into the DLT scenarios bucket).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::error::ErrorParts;

#[derive(Debug, thiserror::Error)]
#[error("cannot upload s3://{bucket}/{key}: {cause}")]
pub struct S3Error {
    pub bucket: String,
    pub key: String,
    pub cause: ErrorParts,
}

/// Uploads `body` to `s3://bucket/key`.
pub async fn put_object(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .set_content_type(content_type.map(str::to_string))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| S3Error {
            bucket: bucket.to_string(),
            key: key.to_string(),
            cause: ErrorParts::from_sdk(&e),
        })
}
