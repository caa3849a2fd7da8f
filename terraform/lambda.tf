# The three Go functions (arm64, provided.al2023, `bootstrap` in
# dist/<name>.zip from `make lambda`), each with its own log group, JSON logs
# and role.

locals {
  lambda_runtime      = "provided.al2023"
  lambda_architecture = "arm64"

  # Every function's name by role, from local.lambda_functions (outputs.tf):
  # the alarms, the dashboard and the function_names output are made for
  # each, so a new function is one more line there.
  functions = { for role, f in local.lambda_functions : role => f.function_name }
}

# --- log groups (created here so they have a retention and are destroyed with the stack)

resource "aws_cloudwatch_log_group" "presign" {
  name              = "/aws/lambda/${var.name}-presign"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "process" {
  name              = "/aws/lambda/${var.name}-process"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "notify" {
  name              = "/aws/lambda/${var.name}-notify"
  retention_in_days = var.log_retention_days
}

# --- presign: the HTTP API behind API Gateway

resource "aws_lambda_function" "presign" {
  function_name    = "${var.name}-presign"
  description      = "imagepipe HTTP API: presigned uploads, raw uploads and image status."
  role             = aws_iam_role.presign.arn
  runtime          = local.lambda_runtime
  architectures    = [local.lambda_architecture]
  handler          = "bootstrap"
  filename         = "${local.dist_dir}/presign.zip"
  source_code_hash = filebase64sha256("${local.dist_dir}/presign.zip")
  memory_size      = var.presign_memory_mb
  timeout          = var.presign_timeout_seconds

  environment {
    variables = {
      UPLOADS_BUCKET       = aws_s3_bucket.uploads.bucket
      PROCESSED_BUCKET     = aws_s3_bucket.processed.bucket
      MAX_UPLOAD_BYTES     = tostring(var.max_upload_bytes)
      RAW_UPLOAD_MAX_BYTES = tostring(var.raw_upload_max_bytes)
      UPLOAD_URL_TTL       = var.upload_url_ttl
      DOWNLOAD_URL_TTL     = var.download_url_ttl
      # Pages on other origins; the page on CloudFront is same-origin.
      CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.presign.name
    application_log_level = var.application_log_level
    system_log_level      = "WARN"
  }

  depends_on = [aws_iam_role_policy.presign]
}

# --- process: the image worker, fed by the process queue

resource "aws_lambda_function" "process" {
  function_name    = "${var.name}-process"
  description      = "imagepipe worker: S3 upload events -> grayscale + thumbnail -> completion event."
  role             = aws_iam_role.process.arn
  runtime          = local.lambda_runtime
  architectures    = [local.lambda_architecture]
  handler          = "bootstrap"
  filename         = "${local.dist_dir}/process.zip"
  source_code_hash = filebase64sha256("${local.dist_dir}/process.zip")
  memory_size      = var.process_memory_mb
  timeout          = var.process_timeout_seconds

  environment {
    variables = {
      PROCESSED_BUCKET = aws_s3_bucket.processed.bucket
      EVENT_BUS_NAME   = aws_cloudwatch_event_bus.imagepipe.name
      MAX_INPUT_BYTES  = tostring(var.max_input_bytes)
      MAX_PIXELS       = tostring(var.max_pixels)
      JPEG_QUALITY     = tostring(var.jpeg_quality)
      THUMBNAIL_SIZES  = join(",", [for s in var.thumbnail_sizes : tostring(s)])
      # On the last receive a transient failure also emits a failure event.
      MAX_RECEIVE_COUNT = tostring(var.queue_max_receive_count)
      # The Stack dimension of the embedded metrics.
      IMAGEPIPE_STACK = var.name
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.process.name
    application_log_level = var.application_log_level
    system_log_level      = "WARN"
  }

  depends_on = [aws_iam_role_policy.process]
}

locals {
  # The process queue's event source mapping, in one place: the resource
  # below, and the `functions` output from which the runtime emulator
  # harness (local/lambdarie) plays it against moto.
  process_event_source = {
    batch_size                         = var.process_batch_size
    maximum_batching_window_in_seconds = var.process_batching_window_seconds
    function_response_types            = ["ReportBatchItemFailures"]
    maximum_concurrency                = var.process_max_concurrency
  }
}

resource "aws_lambda_event_source_mapping" "process" {
  # moto_server cannot run Lambdas; the tests play this mapping with the
  # real process binary under the runtime emulator (local/lambdarie).
  count = var.emulator ? 0 : 1

  event_source_arn                   = aws_sqs_queue.process.arn
  function_name                      = aws_lambda_function.process.arn
  batch_size                         = local.process_event_source.batch_size
  maximum_batching_window_in_seconds = local.process_event_source.maximum_batching_window_in_seconds
  function_response_types            = local.process_event_source.function_response_types

  scaling_config {
    maximum_concurrency = local.process_event_source.maximum_concurrency
  }
}

# --- notify: completion events -> log line, metrics, status record

resource "aws_lambda_function" "notify" {
  function_name    = "${var.name}-notify"
  description      = "imagepipe completion events -> JSON log line, EMF metrics and status record."
  role             = aws_iam_role.notify.arn
  runtime          = local.lambda_runtime
  architectures    = [local.lambda_architecture]
  handler          = "bootstrap"
  filename         = "${local.dist_dir}/notify.zip"
  source_code_hash = filebase64sha256("${local.dist_dir}/notify.zip")
  memory_size      = var.notify_memory_mb
  timeout          = var.notify_timeout_seconds

  environment {
    variables = {
      PROCESSED_BUCKET = aws_s3_bucket.processed.bucket
      IMAGEPIPE_STACK  = var.name
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.notify.name
    application_log_level = var.application_log_level
    system_log_level      = "WARN"
  }

  depends_on = [aws_iam_role_policy.notify]
}

# EventBridge invokes notify asynchronously: Lambda retries a failed event
# twice, then sends it to the events DLQ (alarmed) instead of dropping it.
resource "aws_lambda_function_event_invoke_config" "notify" {
  function_name                = aws_lambda_function.notify.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = var.notify_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.events_dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.notify]
}

resource "aws_lambda_permission" "notify_from_events" {
  statement_id  = "AllowCompletionsRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.notify.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.completions_to_notify.arn
}
