# One role per function, each allowed only the actions it calls on the exact
# resources (object ARNs scoped to the key prefixes it touches). IAM is
# global to the account, so every role name holds the region: the same
# stack name can be deployed to a second region.
#
# Key layout (DESIGN.md §1): uploads/<id>.<ext> in the uploads bucket;
# processed/<id>/{gray,thumb}.<ext>, processed/<id>/manifest.json,
# processed/<id>/lease.json, processed/status/<id>.json and
# processed/content/<md5>.json in the processed bucket.

locals {
  uploads_objects           = "${aws_s3_bucket.uploads.arn}/uploads/*"
  processed_objects         = "${aws_s3_bucket.processed.arn}/processed/*"
  processed_status_objects  = "${aws_s3_bucket.processed.arn}/processed/status/*"
  processed_content_objects = "${aws_s3_bucket.processed.arn}/processed/content/*"
  processed_leases          = "${aws_s3_bucket.processed.arn}/processed/*/lease.json"
  processed_manifests       = "${aws_s3_bucket.processed.arn}/processed/*/manifest.json"
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# --- presign

resource "aws_iam_role" "presign" {
  name               = "${var.name}-presign-${local.region}"
  description        = "imagepipe presign function."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "presign" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.presign.arn}:*"]
  }
  statement {
    # Presigned PUT URLs carry this role's permission; POST /v1/images/upload
    # writes the object itself.
    sid       = "PutUploads"
    actions   = ["s3:PutObject"]
    resources = [local.uploads_objects]
  }
  statement {
    # Status records and the outputs the status response links to.
    sid       = "ReadProcessed"
    actions   = ["s3:GetObject"]
    resources = [local.processed_objects, local.processed_status_objects]
  }
  statement {
    # Without s3:ListBucket S3 answers 403 instead of 404 for a key that does
    # not exist, and the handler could not tell an unknown image id. It is
    # also what GET /v1/images lists processed/status/ with (ListObjectsV2).
    # It cannot be narrowed to that prefix with an s3:prefix condition: a
    # GetObject of a missing key is checked without one, and would answer 403.
    sid       = "TellMissingStatus"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.processed.arn]
  }
  statement {
    # GET /v1/images/{id} of an overdue pending image looks whether its
    # upload arrived after all (HeadObject) before saying "expired"; without
    # s3:ListBucket a missing upload would answer 403, not 404.
    sid       = "SeeUploads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_objects]
  }
  statement {
    sid       = "TellMissingUploads"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }
  statement {
    # The pending record written when an upload is handed out, and the
    # content index entry of an upload declared with content_md5
    # (GET /v1/images?content_md5=).
    sid       = "WritePendingStatus"
    actions   = ["s3:PutObject"]
    resources = [local.processed_status_objects, local.processed_content_objects]
  }
}

resource "aws_iam_role_policy" "presign" {
  name   = "presign"
  role   = aws_iam_role.presign.id
  policy = data.aws_iam_policy_document.presign.json
}

# --- process

resource "aws_iam_role" "process" {
  name               = "${var.name}-process-${local.region}"
  description        = "imagepipe process (worker) function."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "process" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.process.arn}:*"]
  }
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_objects]
  }
  statement {
    # GetObject also grants HeadObject (the idempotency check on outputs);
    # outputs, manifest and lease are written with PutObject (the lease and
    # the manifest conditionally: If-None-Match / If-Match).
    sid       = "ReadWriteOutputs"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.processed_objects]
  }
  statement {
    # The lease is deleted when the work is done (If-Match: only ours).
    sid       = "ReleaseLease"
    actions   = ["s3:DeleteObject"]
    resources = [local.processed_leases]
  }
  statement {
    # 404 instead of 403 for missing keys: a source gone after the 7-day
    # lifecycle is a permanent error, a missing output means "not done yet".
    sid       = "TellMissingObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn, aws_s3_bucket.processed.arn]
  }
  statement {
    sid       = "PublishCompletions"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.imagepipe.arn]
  }
  statement {
    sid       = "ConsumeQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.process.arn]
  }
}

resource "aws_iam_role_policy" "process" {
  name   = "process"
  role   = aws_iam_role.process.id
  policy = data.aws_iam_policy_document.process.json
}

# --- notify

resource "aws_iam_role" "notify" {
  name               = "${var.name}-notify-${local.region}"
  description        = "imagepipe notify function."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "notify" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.notify.arn}:*"]
  }
  statement {
    # The record is read, completed and written back (functions/notify).
    sid       = "ReadWriteStatus"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.processed_status_objects]
  }
  statement {
    # 404 instead of 403 for an image without a record yet.
    sid       = "TellMissingStatus"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.processed.arn]
  }
  statement {
    # Lambda's on-failure destination sends with the function's role.
    sid       = "FailedEventsToDLQ"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events_dlq_inbox.arn]
  }
}

resource "aws_iam_role_policy" "notify" {
  name   = "notify"
  role   = aws_iam_role.notify.id
  policy = data.aws_iam_policy_document.notify.json
}

# --- deadletter

resource "aws_iam_role" "deadletter" {
  name               = "${var.name}-deadletter-${local.region}"
  description        = "imagepipe deadletter function (the dead-letter inboxes)."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "deadletter" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.deadletter.arn}:*"]
  }
  statement {
    # The manifest and outputs (was the image finished after all?) and the
    # status record (was it failed already?).
    sid       = "ReadProcessed"
    actions   = ["s3:GetObject"]
    resources = [local.processed_objects]
  }
  statement {
    # A stranded completion is applied to the status record; a committed
    # manifest is marked published once its event is out; the image's lease
    # is taken (If-None-Match) while it decides.
    sid       = "WriteStatusManifestsAndLeases"
    actions   = ["s3:PutObject"]
    resources = [local.processed_status_objects, local.processed_manifests, local.processed_leases]
  }
  statement {
    sid       = "ReleaseLease"
    actions   = ["s3:DeleteObject"]
    resources = [local.processed_leases]
  }
  statement {
    # 404 instead of 403 for a missing manifest or status record.
    sid       = "TellMissingObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.processed.arn]
  }
  statement {
    sid       = "PublishFailures"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.imagepipe.arn]
  }
  statement {
    sid       = "ConsumeInboxes"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.process_dlq_inbox.arn, aws_sqs_queue.events_dlq_inbox.arn]
  }
  statement {
    sid       = "ParkDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.process_dlq.arn, aws_sqs_queue.events_dlq.arn]
  }
}

resource "aws_iam_role_policy" "deadletter" {
  name   = "deadletter"
  role   = aws_iam_role.deadletter.id
  policy = data.aws_iam_policy_document.deadletter.json
}

# --- API Gateway's own role for pushing stage access logs (account + region wide)

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name}-apigateway-logs-${local.region}"
  description        = "Lets API Gateway write stage access logs to CloudWatch Logs."
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}
