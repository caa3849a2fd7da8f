terraform {
  # 1.11 is what the tests run; validations refer to other variables, which
  # needs 1.9 or later. Any 1.x from 1.11 on applies it.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}
