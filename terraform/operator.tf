# What an operator's imagepipe commands need on AWS, to attach to the
# operator's role or user (output operator_policy_arn):
#   imagepipe events tail --aws   a temporary rule on each bus and a temporary
#                                 queue, named imagepipe-tail-*, removed on exit
#   imagepipe dlq list|redrive    the dead-letter queues the deadletter function
#                                 parks messages in, and a move task from the
#                                 process one back to the process queue
#   imagepipe retry               copy an upload onto itself (GetObject and
#                                 PutObject), read the status records, remove
#                                 the image's dead letters
# The API itself is reached with the API key, not with IAM.

locals {
  operator_arn_prefix = "arn:${local.partition}:%s:${local.region}:${local.account_id}"
  operator_sqs        = format(local.operator_arn_prefix, "sqs")
  operator_events     = format(local.operator_arn_prefix, "events")
  tail_prefix         = "imagepipe-tail-"
}

data "aws_iam_policy_document" "operator" {
  statement {
    sid = "TailRules"
    actions = [
      "events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule",
      "events:TagResource", "events:ListTagsForResource",
    ]
    resources = [
      "${local.operator_events}:rule/${local.tail_prefix}*",
      "${local.operator_events}:rule/${aws_cloudwatch_event_bus.imagepipe.name}/${local.tail_prefix}*",
    ]
  }
  statement {
    # A tail looks for what killed tails left behind.
    sid       = "FindTailRules"
    actions   = ["events:ListRules"]
    resources = ["${local.operator_events}:rule/*"]
  }
  statement {
    sid = "TailQueues"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
      "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:TagQueue", "sqs:ListQueueTags",
    ]
    resources = ["${local.operator_sqs}:${local.tail_prefix}*"]
  }
  statement {
    # The stack's buckets and bus are found by their imagepipe:stack tag;
    # GetResources has no resource-level permissions.
    sid       = "FindStack"
    actions   = ["tag:GetResources"]
    resources = ["*"]
  }
  statement {
    sid       = "FindQueues"
    actions   = ["sqs:ListQueues", "sqs:GetQueueUrl"]
    resources = ["${local.operator_sqs}:*"]
  }
  statement {
    # Read the dead letters and let them go, remove a retried image's, and
    # move them back (the move task acts with the caller's permissions on
    # both queues).
    sid = "DeadLetters"
    actions = [
      "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
      "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask",
    ]
    resources = [aws_sqs_queue.process_dlq.arn]
  }
  statement {
    # dlq list --queue events: the completions parked after notify's
    # retries (already applied to their images).
    sid       = "ListEventDeadLetters"
    actions   = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.events_dlq.arn]
  }
  statement {
    sid       = "Redrive"
    actions   = ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    resources = [aws_sqs_queue.process.arn]
  }
  statement {
    # CopyObject of an upload onto itself reads it and writes it.
    sid       = "RetryUploads"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.uploads_objects]
  }
  statement {
    sid       = "ReadStatus"
    actions   = ["s3:GetObject"]
    resources = [local.processed_status_objects]
  }
  statement {
    # 404 rather than 403 for a missing upload or record.
    sid       = "TellMissing"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn, aws_s3_bucket.processed.arn]
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name}-operator-${local.region}"
  description = "What the imagepipe CLI's --aws commands (events tail, dlq, retry) need on this stack."
  policy      = data.aws_iam_policy_document.operator.json
}
