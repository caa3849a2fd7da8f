provider "aws" {
  region = var.region

  # Only relevant against an emulator; real AWS leaves all of these at their
  # defaults because var.aws_endpoint_url is null.
  skip_credentials_validation = var.aws_endpoint_url != null
  skip_requesting_account_id  = var.aws_endpoint_url != null
  skip_metadata_api_check     = var.aws_endpoint_url != null
  s3_use_path_style           = var.aws_endpoint_url != null

  dynamic "endpoints" {
    for_each = var.aws_endpoint_url == null ? [] : [var.aws_endpoint_url]
    content {
      apigateway     = endpoints.value
      cloudfront     = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      eventbridge    = endpoints.value
      iam            = endpoints.value
      lambda         = endpoints.value
      s3             = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = merge({ Project = var.name, (local.stack_tag) = var.name }, var.tags)
  }
}
