//! DLT v3.2.1's per-task result files, read back to recount response codes.
//!
//! The v3.2.1 results parser sums the `rc` lists of a run's tasks with a reducer that mutates
//! objects it shares across tasks, so a region with N tasks reports c1 + 2·(c2+…+cN) for each
//! code (measured against the real code: two tasks failing 41 and 39 times gave `rc` 119 while
//! `fail` said 80). Its `fail` and `succ` are right. Each task's own Taurus final-stats XML,
//! `results/<testId>/<prefix>-<uuid>-<region>.xml` in the scenarios bucket, holds that task's
//! true codes (`<Group label="">` … `<rc value="COUNT" param="CODE">`); `prefix` is the POST's ISO
//! time reversed, which ties the files to one run among the test's runs.

use std::collections::BTreeMap;

use super::samples::ResultStore;

/// The response codes of one task's final-stats XML (the whole-task group, `label=""`), without
/// `200` as DLT reports them. `None` when the file has no such group.
pub fn xml_response_codes(xml: &str) -> Option<BTreeMap<String, u64>> {
    let start = xml.find("<Group label=\"\"")?;
    let rest = &xml[start..];
    let group = &rest[..rest.find("</Group>").unwrap_or(rest.len())];
    let mut codes = BTreeMap::new();
    let mut tail = group;
    while let Some(i) = tail.find("<rc ") {
        let tag = &tail[i..];
        let end = tag.find('>').unwrap_or(tag.len());
        let attrs = &tag[..end];
        let (Some(code), Some(count)) = (attr(attrs, "param"), attr(attrs, "value")) else {
            tail = &tag[end..];
            continue;
        };
        if code != "200" {
            let n = count.trim().parse::<f64>().unwrap_or(0.0).max(0.0) as u64;
            *codes.entry(code.to_string()).or_insert(0) += n;
        }
        tail = &tag[end..];
    }
    Some(codes)
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let len = tag[i..].find('"')?;
    Some(&tag[i..i + len])
}

/// The XML keys of the run that started at `start_time` (DLT's `"YYYY-MM-DD HH:mm:ss"`), among
/// `keys` under `results/<testId>/`: the file name starts with the reversed ISO time of the POST,
/// within two seconds of the start time DLT recorded.
pub fn run_xml_keys(keys: &[String], test_id: &str, start_time: &str) -> Vec<String> {
    let base = format!("results/{test_id}/");
    let Some(start) = parse(start_time.trim()) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| {
            let Some(name) = k.strip_prefix(&base) else {
                return false;
            };
            !name.contains('/') && name.ends_with(".xml") && names_run(name, start)
        })
        .cloned()
        .collect()
}

/// Whether `name` starts with v3.2.1's run prefix (the POST's ISO time with milliseconds,
/// reversed) of a run that started within two seconds of `start`.
fn names_run(name: &str, start: time::PrimitiveDateTime) -> bool {
    let Some(head) = name.get(..23) else {
        return false;
    };
    let iso: String = head.chars().rev().collect();
    parse(&iso.replace('T', " ")).is_some_and(|t| (t - start).whole_seconds().abs() <= 2)
}

/// The CSV result files of a v3.2.1 JMeter run that started at `start_time`, among `keys` under
/// `results/<testId>/JMeter_Result/`. The container uploads every file the script's
/// `filename` properties name to `results/<testId>/JMeter_Result/<prefix>/<uuid>/<file>`
/// (deployment/ecr/…/load-test.sh); those ending `.jtl` or `.csv` may be CSV JTL results (a
/// CSV the script reads as data has no JTL header and fails to merge, named in a warning).
pub fn run_jmeter_result_keys(keys: &[String], test_id: &str, start_time: &str) -> Vec<String> {
    let base = format!("results/{test_id}/JMeter_Result/");
    let Some(start) = parse(start_time.trim()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = keys
        .iter()
        .filter(|k| {
            let Some(rest) = k.strip_prefix(&base) else {
                return false;
            };
            let mut parts = rest.splitn(3, '/');
            let (Some(prefix), Some(uuid), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            !uuid.is_empty() && (file.ends_with(".jtl") || file.ends_with(".csv")) && names_run(prefix, start)
        })
        .cloned()
        .collect();
    out.sort();
    out
}

fn parse(s: &str) -> Option<time::PrimitiveDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s.get(..19)?, &fmt).ok()
}

/// Recounts a v3.2.1 run's response codes from its tasks' XML files in `bucket`. `Ok(None)`
/// when the run has no readable files there.
pub async fn recount_codes(
    store: &dyn ResultStore,
    bucket: &str,
    test_id: &str,
    start_time: &str,
) -> Result<Option<BTreeMap<String, u64>>, String> {
    let keys = store.list(bucket, &format!("results/{test_id}/")).await?;
    let keys = run_xml_keys(&keys, test_id, start_time);
    if keys.is_empty() {
        return Ok(None);
    }
    let mut total = BTreeMap::new();
    for key in &keys {
        let mut body = Vec::new();
        store
            .read(bucket, key, &mut |chunk: &[u8]| {
                if body.len() + chunk.len() > 8 << 20 {
                    return Err(format!("{key} is larger than 8 MiB"));
                }
                body.extend_from_slice(chunk);
                Ok(())
            })
            .await?;
        let Some(codes) = xml_response_codes(&String::from_utf8_lossy(&body)) else {
            return Err(format!("{key} has no whole-task results"));
        };
        for (c, n) in codes {
            *total.entry(c).or_insert(0) += n;
        }
    }
    log::info!(
        "recounted the response codes of DLT test {test_id} from {} task result file(s)",
        keys.len()
    );
    Ok(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" ?>
<FinalStatus>
  <TestDuration>60.0</TestDuration>
  <Group label="https://app/checkout">
    <rc value="7" param="503"><name>rc/503</name><value>7</value></rc>
  </Group>
  <Group label="">
    <throughput value="500"><name>throughput</name><value>500</value></throughput>
    <rc value="459" param="200"><name>rc/200</name><value>459</value></rc>
    <rc value="41" param="500"><name>rc/500</name><value>41</value></rc>
    <rc param="UnknownHostException" value="2"><value>2</value></rc>
  </Group>
</FinalStatus>"#;

    #[test]
    fn whole_task_group_codes_without_200() {
        let c = xml_response_codes(XML).expect("group");
        assert_eq!(c.get("500"), Some(&41));
        assert_eq!(c.get("UnknownHostException"), Some(&2));
        assert!(!c.contains_key("200") && !c.contains_key("503"), "{c:?}");
        assert_eq!(xml_response_codes("<FinalStatus/>"), None);
    }

    #[test]
    fn keys_of_one_run() {
        let rev = |iso: &str| iso.chars().rev().collect::<String>();
        let keys: Vec<String> = [
            format!("results/T1/{}-uuid1-eu-west-1.xml", rev("2026-12-02T07:40:41.123")),
            format!("results/T1/{}-uuid2-eu-west-1.xml", rev("2026-12-02T07:40:42.900")),
            format!("results/T1/{}-uuid3-eu-west-1.xml", rev("2026-12-01T07:40:41.000")),
            format!("results/T1/{}-uuid1-eu-west-1.log", rev("2026-12-02T07:40:41.123")),
            "results/T1/JMeter_Result/x/y.jtl".to_string(),
        ]
        .into();
        let run = run_xml_keys(&keys, "T1", "2026-12-02 07:40:41");
        assert_eq!(run.len(), 2, "{run:?}");
        assert!(run_xml_keys(&keys, "T1", "running").is_empty());
    }

    #[test]
    fn jmeter_result_files_of_one_run() {
        let rev = |iso: &str| iso.chars().rev().collect::<String>();
        let this = rev("2026-12-02T07:40:41.123");
        let keys: Vec<String> = [
            format!("results/T1/JMeter_Result/{this}/uuid1/results.jtl"),
            format!("results/T1/JMeter_Result/{this}/uuid2/tmp/out/results.csv"),
            format!("results/T1/JMeter_Result/{this}/uuid2/jmeter.log"),
            format!(
                "results/T1/JMeter_Result/{}/uuid3/results.jtl",
                rev("2026-12-01T07:40:41.000")
            ),
            format!("results/T1/{this}-uuid1-eu-west-1.xml"),
            format!("results/T2/JMeter_Result/{this}/uuid1/results.jtl"),
        ]
        .into();
        let run = run_jmeter_result_keys(&keys, "T1", "2026-12-02 07:40:42");
        assert_eq!(
            run,
            [
                format!("results/T1/JMeter_Result/{this}/uuid1/results.jtl"),
                format!("results/T1/JMeter_Result/{this}/uuid2/tmp/out/results.csv"),
            ]
        );
        assert!(run_jmeter_result_keys(&keys, "T1", "2026-12-02 07:40:50").is_empty());
        assert!(run_jmeter_result_keys(&keys, "T1", "running").is_empty());
    }
}
