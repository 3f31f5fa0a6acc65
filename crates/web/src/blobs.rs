//! Evidence files in an S3-compatible object store (object_store): the server's choice when
//! given `--evidence-s3 s3://BUCKET[/PREFIX]`. Credentials, region and endpoint come from the
//! standard variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT` for a non-AWS store, `AWS_ALLOW_HTTP=true` for one on plain HTTP).
//!
//! The evidence use cases are synchronous and run on the blocking pool, so each call waits
//! here on the server's runtime for the store's answer.

use aftercare_app::evidence::Blobs;
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;

pub struct S3 {
    store: AmazonS3,
    prefix: String,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3({})", self.prefix)
    }
}

impl S3 {
    /// `url`: `s3://bucket` or `s3://bucket/prefix`.
    pub fn new(url: &str, runtime: tokio::runtime::Handle) -> Result<S3, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{url}` is not an s3://BUCKET address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("`{url}` names no bucket"));
        }
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("the object store cannot be used: {e}"))?;
        Ok(S3 {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            runtime,
        })
    }

    fn path(&self, name: &str) -> Result<Path, String> {
        // Names are ours (random hex), but a name is never a path.
        if name.is_empty()
            || name.starts_with('.')
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(format!("`{name}` is not a blob name"));
        }
        Ok(if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        })
    }
}

impl Blobs for S3 {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.path(name)?;
        let payload = object_store::PutPayload::from(bytes.to_vec());
        self.runtime
            .block_on(self.store.put(&path, payload))
            .map(|_| ())
            .map_err(|e| format!("the object store did not take {name}: {e}"))
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.path(name)?;
        self.runtime
            .block_on(async {
                let got = self.store.get(&path).await?;
                got.bytes().await
            })
            .map(|b| b.to_vec())
            .map_err(|e| format!("the object store did not give {name}: {e}"))
    }

    fn delete(&self, name: &str) {
        if let Ok(path) = self.path(name) {
            let _ = self.runtime.block_on(self.store.delete(&path));
        }
    }
}
