//! The fault proxy's own rewriting (the harness piece that stands in for AWS failures moto
//! cannot produce), without a network.

mod support;

use support::fault_proxy::{form_action, replace_status};

#[test]
fn rewrites_every_status() {
    let xml = "<a><StackStatus>CREATE_COMPLETE</StackStatus><b/><StackStatus>X</StackStatus></a>";
    assert_eq!(
        replace_status(xml, "ROLLBACK_COMPLETE"),
        "<a><StackStatus>ROLLBACK_COMPLETE</StackStatus><b/><StackStatus>ROLLBACK_COMPLETE</StackStatus></a>"
    );
    assert_eq!(
        form_action(b"Version=2010-05-15&Action=DescribeStacks&StackName=x"),
        "DescribeStacks"
    );
}
