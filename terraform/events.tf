# EventBridge: the custom bus for completion events, the two rules whose
# patterns live in eventbus/patterns (never retyped here), their targets and
# an archive on each bus.

resource "aws_cloudwatch_event_bus" "imagepipe" {
  name = local.event_bus_name
}

# --- uploads-to-queue: S3 "Object Created" on the default bus -> process queue

locals {
  uploads_pattern = templatefile("${local.patterns}/uploads-to-queue.json", {
    uploads_bucket = aws_s3_bucket.uploads.bucket
  })
  completions_pattern = templatefile("${local.patterns}/completions-to-notify.json", {})
}

resource "aws_cloudwatch_event_rule" "uploads_to_queue" {
  name           = "${var.name}-uploads-to-queue"
  description    = "S3 Object Created in the uploads bucket -> process queue (eventbus/patterns/uploads-to-queue.json)."
  event_bus_name = "default"
  event_pattern  = local.uploads_pattern
}

resource "aws_cloudwatch_event_target" "uploads_to_queue" {
  rule           = aws_cloudwatch_event_rule.uploads_to_queue.name
  event_bus_name = aws_cloudwatch_event_rule.uploads_to_queue.event_bus_name
  target_id      = "process-queue"
  arn            = aws_sqs_queue.process.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_target_max_age_seconds
    maximum_retry_attempts       = var.event_target_max_retries
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq_inbox.arn
  }
}

# --- completions-to-notify: completion events on the imagepipe bus -> notify

resource "aws_cloudwatch_event_rule" "completions_to_notify" {
  name           = "${var.name}-completions-to-notify"
  description    = "Image Processed / Image Processing Failed -> notify function (eventbus/patterns/completions-to-notify.json)."
  event_bus_name = aws_cloudwatch_event_bus.imagepipe.name
  event_pattern  = local.completions_pattern
}

resource "aws_cloudwatch_event_target" "completions_to_notify" {
  # moto_server cannot invoke Lambdas (and fails PutEvents on a bus whose rule
  # has a Lambda target), so the emulator swaps this target for the tap below.
  count = var.emulator ? 0 : 1

  rule           = aws_cloudwatch_event_rule.completions_to_notify.name
  event_bus_name = aws_cloudwatch_event_rule.completions_to_notify.event_bus_name
  target_id      = "notify-function"
  arn            = aws_lambda_function.notify.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_target_max_age_seconds
    maximum_retry_attempts       = var.event_target_max_retries
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq_inbox.arn
  }
}

resource "aws_cloudwatch_event_target" "completions_tap" {
  count = var.emulator ? 1 : 0

  rule           = aws_cloudwatch_event_rule.completions_to_notify.name
  event_bus_name = aws_cloudwatch_event_rule.completions_to_notify.event_bus_name
  target_id      = "emulator-tap"
  arn            = aws_sqs_queue.tap[0].arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_target_max_age_seconds
    maximum_retry_attempts       = var.event_target_max_retries
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq_inbox.arn
  }
}

# --- archives, so an operator can replay a time window (imagepipe replay)

resource "aws_cloudwatch_event_archive" "uploads" {
  name             = "${var.name}-uploads"
  description      = "S3 upload events of the uploads bucket on the default bus."
  event_source_arn = local.default_bus_arn
  event_pattern    = local.uploads_pattern
  retention_days   = var.archive_retention_days

  # Ordering only (no effect on AWS): moto_server hands S3 events to the
  # rules in creation order and stops at an archive's internal rule, so the
  # queue rule and its target must exist first.
  depends_on = [aws_cloudwatch_event_target.uploads_to_queue]
}

resource "aws_cloudwatch_event_archive" "completions" {
  name             = "${var.name}-completions"
  description      = "Every event on the ${local.event_bus_name} bus."
  event_source_arn = aws_cloudwatch_event_bus.imagepipe.arn
  retention_days   = var.archive_retention_days
}
