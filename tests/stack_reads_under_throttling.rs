//! Many `data "dlt_stack"` reads in one plan, with CloudFormation throttling them: every read
//! succeeds (the SDK's jittered back-off absorbs the throttling), under real Terraform with
//! `-parallelism=20`, moto, and the fault proxy answering `Throttling` to a share of the calls.

mod support;

use support::fault_proxy::{self, Fault, FaultProxy};
use support::moto::{workspace, Moto};
use support::{runtime, terraform};

const READS: usize = 20;
const THROTTLED: usize = 30;

#[test]
fn twenty_parallel_stack_reads_under_throttling_all_succeed() {
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let tf = terraform::primary().expect("terraform");
    let name = "DLT-Parallel-Reads";
    let creator = workspace(tf, &(moto.provider_block(&[]) + &seed.stack_hcl(name)));
    creator.apply().assert_ok();

    let proxy = FaultProxy::start(moto.port());
    proxy.add(
        "DescribeStacks",
        Fault::Respond {
            status: 400,
            body: fault_proxy::query_error("Throttling", "Rate exceeded"),
        },
        Some(THROTTLED),
    );
    let mut hcl = moto.provider_block(&[("cloudformation", &proxy.endpoint())]);
    for i in 0..READS {
        hcl.push_str(&format!(
            "data \"dlt_stack\" \"r{i}\" {{\n  name = \"{name}\"\n}}\noutput \"status_{i}\" {{\n  value = data.dlt_stack.r{i}.status\n}}\n"
        ));
    }
    let reader = workspace(tf, &hcl);
    let run = reader.run(&["apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=20"]);
    run.assert_ok();
    let outputs = reader.run(&["output", "-json"]);
    let json: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("outputs");
    for i in 0..READS {
        assert_eq!(json[format!("status_{i}")]["value"], "CREATE_COMPLETE", "{json}");
    }
    let describes = proxy.actions().iter().filter(|a| *a == "DescribeStacks").count();
    eprintln!("{READS} reads: {describes} DescribeStacks calls, {THROTTLED} of them throttled");
    assert!(
        describes >= READS + THROTTLED,
        "every throttled call was retried: {describes}"
    );
    creator.destroy().assert_ok();
}
