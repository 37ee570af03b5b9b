# A stack can be imported by its name or its ARN.
terraform import dlt_stack.main DLT-Load-Test-myapp-eu
terraform import dlt_stack.main arn:aws:cloudformation:eu-west-1:123456789012:stack/DLT-Load-Test-myapp-eu/0a1b2c3d-4e5f-6789-abcd-ef0123456789
