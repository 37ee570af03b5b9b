//! Exact figures from raw samples in S3 (moto): a run's `kpi-*.jtl` files are found under its own
//! prefix, streamed and merged, and the merged p95 equals the p95 this test computes itself from
//! the same samples, which the mean of the per-task p95s (DLT's figure) does not.
mod support;

use aws_sdk_s3::primitives::ByteStream;
use dlt_provider::dlt::samples::{merge_run, run_prefix_of, ExactError, ResultStore, Window};
use support::moto::Moto;

const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,bytes,grpThreads,allThreads,Latency,Hostname,Connect\n";

/// One task's file and its latencies: `n` samples, latency drawn from `base..base+spread`.
fn task(n: usize, base: u64, spread: u64, seed: u64) -> (String, Vec<u64>) {
    let mut text = HEADER.to_string();
    let mut latencies = Vec::with_capacity(n);
    let mut x = seed;
    for i in 0..n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let ms = base + (x >> 33) % spread;
        let label = if i % 4 == 0 { "checkout" } else { "home" };
        let (code, ok) = if (x >> 20).is_multiple_of(100) {
            ("503", false)
        } else {
            ("200", true)
        };
        text.push_str(&format!(
            "{},{ms},{label},{code},msg,Thread Group 1-1,{ok},100,1,1,{ms},h,0\n",
            1_764_000_000_000u64 + i as u64 * 5
        ));
        latencies.push(ms);
    }
    (text, latencies)
}

/// The nearest-rank percentile of `v` (what a user computes from the raw file).
fn percentile(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.saturating_sub(1).min(v.len() - 1)] as f64
}

#[test]
fn exact_p95_from_a_four_task_run_in_s3() {
    let Some(moto) = Moto::start() else { return };
    let rt = support::runtime();
    rt.block_on(async {
        let s3 = moto.clients().await.s3;
        let bucket = "dlt-scenarios-exact";
        s3.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .expect("bucket");
        let run = "results/TEST123456/2026-12-02T07-40-41_RUNID00001/";
        let mut all = Vec::new();
        let mut task_p95 = Vec::new();
        // Three fast tasks and one slow; the slow one's file is large enough to arrive in many
        // chunks.
        for (i, (n, base, spread)) in [(20_000, 20, 30), (20_000, 20, 30), (20_000, 20, 30), (60_000, 400, 400)]
            .into_iter()
            .enumerate()
        {
            let (text, mut lat) = task(n, base, spread, i as u64 + 1);
            task_p95.push(percentile(&mut lat.clone(), 95.0));
            all.append(&mut lat);
            s3.put_object()
                .bucket(bucket)
                .key(format!("{run}kpi-task{i}-eu-west-1.jtl"))
                .body(ByteStream::from(text.into_bytes()))
                .send()
                .await
                .expect("put");
        }
        // The per-task XML, a completion marker and an older run of the same test are not samples.
        for (key, body) in [
            (format!("{run}task0-eu-west-1.xml"), "<FinalStatus/>".to_string()),
            (format!("{run}completion/eu-west-1/abc"), String::new()),
            (
                "results/TEST123456/2026-11-30T01-00-00_OLDRUN0001/kpi-x-eu-west-1.jtl".to_string(),
                task(10, 1, 2, 9).0,
            ),
        ] {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.into_bytes()))
                .send()
                .await
                .expect("put");
        }

        let keys = ResultStore::list(&s3, bucket, "results/TEST123456/")
            .await
            .expect("list");
        let prefix = run_prefix_of(&keys, "TEST123456", "RUNID00001").expect("the run's prefix");
        assert_eq!(prefix, run);
        let exact = merge_run(&s3, bucket, &prefix, Window::default())
            .await
            .expect("merged");
        assert_eq!(exact.files, 4);
        assert_eq!(exact.results.total.requests, all.len() as u64);
        assert_eq!(exact.summary.unreadable, 0);

        let truth = percentile(&mut all, 95.0);
        let merged = exact.results.total.p95_ms;
        // HDR histogram, 3 significant digits: within 0.1 %.
        assert!(
            (merged - truth).abs() <= truth * 0.001 + 0.5,
            "merged p95 {merged} vs {truth}"
        );
        let averaged = task_p95.iter().sum::<f64>() / task_p95.len() as f64;
        assert!(
            (averaged - truth).abs() > truth * 0.2,
            "DLT's averaged p95 {averaged} should differ from the true {truth}"
        );
        let checkout = exact
            .results
            .labels
            .iter()
            .find(|l| l.label == "checkout")
            .expect("label");
        assert_eq!(checkout.stats.requests, 30_000);
        assert_eq!(
            exact.results.total.failures,
            exact.results.status_codes.get("503").copied().unwrap_or(0)
        );

        // A bucket the caller cannot list: an error the resource reports as a fallback.
        let e = merge_run(&s3, "no-such-bucket-here", &prefix, Window::default())
            .await
            .expect_err("no bucket");
        assert!(matches!(e, ExactError::List { .. }), "{e}");
        assert!(e.to_string().contains("NoSuchBucket"), "{e}");
    });
}
