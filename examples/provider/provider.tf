provider "dlt" {
  region  = "eu-west-1"
  profile = "ci"

  assume_role = {
    role_arn     = "arn:aws:iam::123456789012:role/dlt-ci"
    session_name = "terraform-dlt"
  }
}
