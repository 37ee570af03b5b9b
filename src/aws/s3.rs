//! S3: script uploads into the DLT scenarios bucket, and reading result objects back (listed by
//! prefix, bodies streamed chunk by chunk so a multi-gigabyte sample file never sits in memory).
//! The DLT domain asks for both through its own traits ([`ScriptStore`], [`ResultStore`]),
//! implemented here for the SDK client, so `dlt/` never imports `aws/`.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::error::ErrorParts;
use crate::dlt::runner::ScriptStore;
use crate::dlt::samples::{ChunkSink, ResultStore};

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

#[derive(Debug, thiserror::Error)]
#[error("cannot read s3://{bucket}/{key}: {cause}")]
pub struct S3ReadError {
    pub bucket: String,
    pub key: String,
    pub cause: String,
}

/// Every key under `prefix`, following continuation tokens.
pub async fn list_keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, S3ReadError> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| S3ReadError {
            bucket: bucket.to_string(),
            key: prefix.to_string(),
            cause: ErrorParts::from_sdk(&e).to_string(),
        })?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
    }
    Ok(keys)
}

/// Streams `s3://bucket/key` to `sink` as the body arrives (never the whole object in memory).
pub async fn read_object(
    client: &Client,
    bucket: &str,
    key: &str,
    sink: &mut ChunkSink<'_>,
) -> Result<(), S3ReadError> {
    let err = |cause: String| S3ReadError {
        bucket: bucket.to_string(),
        key: key.to_string(),
        cause,
    };
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| err(ErrorParts::from_sdk(&e).to_string()))?;
    let mut body = out.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| err(format!("the download broke off: {e}")))?;
        sink(&chunk).map_err(err)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl ScriptStore for Client {
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
        put_object(self, bucket, key, body, None)
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl ResultStore for Client {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
        list_keys(self, bucket, prefix).await.map_err(|e| e.cause)
    }

    async fn read(&self, bucket: &str, key: &str, sink: &mut ChunkSink<'_>) -> Result<(), String> {
        read_object(self, bucket, key, sink).await.map_err(|e| e.cause)
    }
}
