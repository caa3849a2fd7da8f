data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  uploads_bucket   = coalesce(var.uploads_bucket_name, "${var.name}-uploads-${local.account_id}-${local.region}")
  processed_bucket = coalesce(var.processed_bucket_name, "${var.name}-processed-${local.account_id}-${local.region}")
  event_bus_name   = coalesce(var.event_bus_name, var.name)

  # The default bus exists in every account and region; S3 sends its events there.
  default_bus_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"

  dist_dir = coalesce(var.lambda_dist_dir, "${path.module}/../dist")
  patterns = "${path.module}/../eventbus/patterns"

  # The tag every resource carries (provider default_tags): `imagepipe
  # replay --aws --stack <name>` finds the buckets by it and checks the
  # rule it replays to.
  stack_tag = "imagepipe:stack"
}
