# The four Go functions (arm64, provided.al2023, `bootstrap` in
# dist/<name>.zip from `make lambda`), each with its own log group, JSON logs
# and role.

locals {
  lambda_runtime      = "provided.al2023"
  lambda_architecture = "arm64"

  # Every function's name by role, from local.lambda_functions (outputs.tf):
  # the alarms, the dashboard and the function_names output are made for
  # each, so a new function is one more line there.
  functions = { for role, f in local.lambda_functions : role => f.function_name }

  # GOMEMLIMIT: the Go runtime's soft memory limit at 90 % of each
  # function's memory, so the GC holds the heap under it before Lambda
  # stops the function for running out of memory (the process function
  # derives its image memory budget from it). Under it the bootstraps set
  # the collector's target to GOGC=400 themselves (awsenv.GCPercent); a
  # GOGC variable in a function's environment overrides that.
  gomemlimit = {
    presign    = "${floor(var.presign_memory_mb * 0.9)}MiB"
    process    = "${floor(var.process_memory_mb * 0.9)}MiB"
    notify     = "${floor(var.notify_memory_mb * 0.9)}MiB"
    deadletter = "${floor(var.deadletter_memory_mb * 0.9)}MiB"
  }
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

resource "aws_cloudwatch_log_group" "deadletter" {
  name              = "/aws/lambda/${var.name}-deadletter"
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
      GOMEMLIMIT           = local.gomemlimit.presign
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
      # No image is started with less than this left before the timeout.
      START_MARGIN = "${var.process_start_margin_seconds}s"
      GOMEMLIMIT   = local.gomemlimit.process
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
      GOMEMLIMIT       = local.gomemlimit.notify
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
# twice, then sends it to the events dead-letter inbox instead of dropping it.
resource "aws_lambda_function_event_invoke_config" "notify" {
  function_name                = aws_lambda_function.notify.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = var.notify_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.events_dlq_inbox.arn
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

# --- deadletter: ends the image of every dead letter, parks the message

resource "aws_lambda_function" "deadletter" {
  function_name    = "${var.name}-deadletter"
  description      = "imagepipe dead letters -> image failed (retries_exhausted) or stranded completion applied; message parked in its DLQ."
  role             = aws_iam_role.deadletter.arn
  runtime          = local.lambda_runtime
  architectures    = [local.lambda_architecture]
  handler          = "bootstrap"
  filename         = "${local.dist_dir}/deadletter.zip"
  source_code_hash = filebase64sha256("${local.dist_dir}/deadletter.zip")
  memory_size      = var.deadletter_memory_mb
  timeout          = var.deadletter_timeout_seconds

  environment {
    variables = {
      PROCESSED_BUCKET  = aws_s3_bucket.processed.bucket
      EVENT_BUS_NAME    = aws_cloudwatch_event_bus.imagepipe.name
      MAX_RECEIVE_COUNT = tostring(var.queue_max_receive_count)
      PROCESS_DLQ_URL   = aws_sqs_queue.process_dlq.id
      EVENTS_DLQ_URL    = aws_sqs_queue.events_dlq.id
      IMAGEPIPE_STACK   = var.name
      GOMEMLIMIT        = local.gomemlimit.deadletter
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.deadletter.name
    application_log_level = var.application_log_level
    system_log_level      = "WARN"
  }

  depends_on = [aws_iam_role_policy.deadletter]
}

locals {
  # The settings of both dead-letter inboxes' mappings, in one place: the
  # resources below, and the `functions` output (the runtime emulator
  # harness plays the process inbox's).
  deadletter_event_source = {
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    function_response_types            = ["ReportBatchItemFailures"]
    maximum_concurrency                = 2
  }
}

resource "aws_lambda_event_source_mapping" "deadletter_process" {
  # moto_server cannot run Lambdas; the tests play this mapping with the
  # real deadletter binary under the runtime emulator.
  count = var.emulator ? 0 : 1

  event_source_arn                   = aws_sqs_queue.process_dlq_inbox.arn
  function_name                      = aws_lambda_function.deadletter.arn
  batch_size                         = local.deadletter_event_source.batch_size
  maximum_batching_window_in_seconds = local.deadletter_event_source.maximum_batching_window_in_seconds
  function_response_types            = local.deadletter_event_source.function_response_types

  scaling_config {
    maximum_concurrency = local.deadletter_event_source.maximum_concurrency
  }
}

resource "aws_lambda_event_source_mapping" "deadletter_events" {
  count = var.emulator ? 0 : 1

  event_source_arn                   = aws_sqs_queue.events_dlq_inbox.arn
  function_name                      = aws_lambda_function.deadletter.arn
  batch_size                         = local.deadletter_event_source.batch_size
  maximum_batching_window_in_seconds = local.deadletter_event_source.maximum_batching_window_in_seconds
  function_response_types            = local.deadletter_event_source.function_response_types

  scaling_config {
    maximum_concurrency = local.deadletter_event_source.maximum_concurrency
  }
}
