terraform {
  required_version = ">= 1.5"

  required_providers {
    dlt = {
      source  = "dlt-tools/dlt"
      version = "~> 0.1"
    }
  }
}
