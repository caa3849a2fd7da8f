# The process queue (S3 events for the worker) and the dead letters.
#
# A message whose retries ran out lands in a dead-letter INBOX: the process
# queue redrives there after queue_max_receive_count receives; EventBridge
# rule targets and notify's asynchronous invocations send there what they
# could not deliver. The deadletter function (event source mapping on each
# inbox) ends the image at once (retries_exhausted, or the stranded
# completion applied) and parks the message in the dead-letter queue proper
# (process-dlq, events-dlq), where it stays for an operator to inspect and
# redrive. If the function cannot handle a message, the inbox's own redrive
# moves it to the DLQ after dead_letter_inbox_max_receive_count receives.

locals {
  # AWS: the source queue's visibility timeout must be at least 6 x the
  # function timeout plus the batching window, so messages of a throttled or
  # retried invocation are not handed out twice meanwhile.
  queue_visibility_timeout = 6 * var.process_timeout_seconds + var.process_batching_window_seconds

  # Queue ARNs built from the names, so the inline policies can name their
  # own queue without a dependency cycle.
  sqs_arn_prefix          = "arn:${local.partition}:sqs:${local.region}:${local.account_id}"
  process_queue_name      = "${var.name}-process"
  events_dlq_inbox_name   = "${var.name}-events-dlq-inbox"
  tap_queue_name          = "${var.name}-completions-tap"
  dead_letter_inbox_tries = 10

  # Like the process queue's, for the deadletter function's mappings.
  dead_letter_inbox_visibility = 6 * var.deadletter_timeout_seconds
}

resource "aws_sqs_queue" "process_dlq" {
  name                      = "${var.name}-process-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "process" {
  name                       = local.process_queue_name
  visibility_timeout_seconds = local.queue_visibility_timeout
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.process_dlq_inbox.arn
    maxReceiveCount     = var.queue_max_receive_count
  })

  # Inline rather than aws_sqs_queue_policy: the same queue policy, one
  # attribute-propagation wait instead of two on create and destroy.
  policy = data.aws_iam_policy_document.process_queue.json
}

data "aws_iam_policy_document" "process_queue" {
  statement {
    sid       = "EventBridgeUploadsRule"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = ["${local.sqs_arn_prefix}:${local.process_queue_name}"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.uploads_to_queue.arn]
    }
  }
}

# Upload events whose receives ran out, for the deadletter function.
resource "aws_sqs_queue" "process_dlq_inbox" {
  name                       = "${var.name}-process-dlq-inbox"
  visibility_timeout_seconds = local.dead_letter_inbox_visibility
  message_retention_seconds  = var.dlq_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.process_dlq.arn
    maxReceiveCount     = local.dead_letter_inbox_tries
  })
}

# Events a rule target could not take after its retry policy ran out, and
# completion events notify kept failing on (Lambda's on-failure destination).
resource "aws_sqs_queue" "events_dlq_inbox" {
  name                       = local.events_dlq_inbox_name
  visibility_timeout_seconds = local.dead_letter_inbox_visibility
  message_retention_seconds  = var.dlq_retention_seconds
  sqs_managed_sse_enabled    = true
  policy                     = data.aws_iam_policy_document.events_dlq_inbox.json

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = local.dead_letter_inbox_tries
  })
}

data "aws_iam_policy_document" "events_dlq_inbox" {
  statement {
    sid       = "EventBridgeRuleTargets"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = ["${local.sqs_arn_prefix}:${local.events_dlq_inbox_name}"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = [
        aws_cloudwatch_event_rule.uploads_to_queue.arn,
        aws_cloudwatch_event_rule.completions_to_notify.arn,
      ]
    }
  }
}

# The dead letters, handled and kept: what the deadletter function parks.
resource "aws_sqs_queue" "events_dlq" {
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

# --- emulator only: the completions rule delivers here instead of to notify,
# so the tests can hand the events to the notify handler themselves.

resource "aws_sqs_queue" "tap" {
  count = var.emulator ? 1 : 0

  name                    = local.tap_queue_name
  sqs_managed_sse_enabled = true
  policy                  = data.aws_iam_policy_document.tap[0].json
}

data "aws_iam_policy_document" "tap" {
  count = var.emulator ? 1 : 0

  statement {
    sid       = "EventBridgeCompletionsRule"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = ["${local.sqs_arn_prefix}:${local.tap_queue_name}"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.completions_to_notify.arn]
    }
  }
}

