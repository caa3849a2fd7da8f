# What an on-call engineer watches: alarms that say what broke and what to
# do (each description ends with its section of docs/runbook.md), a
# dashboard of the pipeline, and optional notification through SNS.
#
# The functions' own metrics (namespace "imagepipe", dimension Stack = the
# stack's name) come from their log lines in CloudWatch embedded metric
# format; see the metrics package for the names and units.

resource "aws_sns_topic" "alarms" {
  count = var.alarm_email == null ? 0 : 1

  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions     = concat(aws_sns_topic.alarms[*].arn, var.alarm_topic_arns)
  metrics_namespace = "imagepipe"
  stack_dimension   = { Stack = var.name }
  runbook           = var.runbook_url

  dlqs = {
    process = aws_sqs_queue.process_dlq.name
    events  = aws_sqs_queue.events_dlq.name
  }
  api_dimensions = {
    ApiName = aws_api_gateway_rest_api.this.name
    Stage   = aws_api_gateway_stage.this.stage_name
  }
}

# --- functions: errors and throttles, one alarm of each per function

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.functions

  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "The ${each.value} function failed (returned an error, crashed or timed out) in the last 5 minutes. Find the error in its log group /aws/lambda/${each.value}; what to do: ${local.runbook}#function-errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = local.functions

  alarm_name          = "${var.name}-${each.key}-throttles"
  alarm_description   = "Lambda refused to run the ${each.value} function (throttled: account or function concurrency used up) in the last 5 minutes. Work is delayed, not lost; what to do: ${local.runbook}#function-throttles"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the process queue: a backlog, and messages given up on

resource "aws_cloudwatch_metric_alarm" "queue_oldest_message" {
  alarm_name          = "${var.name}-process-queue-backlog"
  alarm_description   = "An upload event has waited more than ${var.oldest_message_alarm_seconds} s in ${aws_sqs_queue.process.name}: images are not being processed, or too slowly, or one keeps failing and being retried. What to do: ${local.runbook}#queue-backlog"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.process.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.dlqs

  alarm_name          = "${var.name}-${each.key}-dlq-depth"
  alarm_description   = "Messages are waiting in the dead-letter queue ${each.value}: events that were given up on (images not processed, or completions whose status was not recorded). Inspect them, fix the cause, then redrive; what to do: ${local.runbook}#dead-letter-queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.dlq_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- images: the share that fails

resource "aws_cloudwatch_metric_alarm" "failure_rate" {
  alarm_name          = "${var.name}-image-failure-rate"
  alarm_description   = "At least ${var.failure_rate_alarm_percent}% of the images finished in the last 15 minutes failed (of at least ${var.failure_rate_alarm_min_images}). The dashboard's failures-by-code graph says which error; what to do: ${local.runbook}#image-failure-rate"
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.failure_rate_alarm_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "failed images, % of finished"
    expression  = "IF(FILL(done, 0) + FILL(failed, 0) >= ${var.failure_rate_alarm_min_images}, 100 * FILL(failed, 0) / (FILL(done, 0) + FILL(failed, 0)), 0)"
    return_data = true
  }

  metric_query {
    id = "done"
    metric {
      namespace   = local.metrics_namespace
      metric_name = "ImagesDone"
      dimensions  = local.stack_dimension
      period      = 900
      stat        = "Sum"
    }
  }

  metric_query {
    id = "failed"
    metric {
      namespace   = local.metrics_namespace
      metric_name = "ImagesFailed"
      dimensions  = local.stack_dimension
      period      = 900
      stat        = "Sum"
    }
  }
}

# --- the API: server errors and latency

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The API answered ${var.api_5xx_alarm_threshold} or more 5xx responses in 5 minutes: clients cannot get upload URLs or statuses. Look at the presign function's errors and the access log /aws/apigateway/${var.name}/access; what to do: ${local.runbook}#api-5xx-errors"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = local.api_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.api_5xx_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.name}-api-latency"
  alarm_description   = "The API's p99 latency stayed above ${var.api_latency_alarm_ms} ms for 15 minutes: uploads feel broken to users. What to do: ${local.runbook}#api-latency"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = local.api_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_latency_alarm_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the dashboard

locals {
  # Every alarm of the stack: the dashboard's alarm widget and the
  # alarm_names output list these.
  alarms = concat(
    values(aws_cloudwatch_metric_alarm.function_errors),
    values(aws_cloudwatch_metric_alarm.function_throttles),
    values(aws_cloudwatch_metric_alarm.dlq_depth),
    [
      aws_cloudwatch_metric_alarm.queue_oldest_message,
      aws_cloudwatch_metric_alarm.failure_rate,
      aws_cloudwatch_metric_alarm.api_5xx,
      aws_cloudwatch_metric_alarm.api_latency,
    ],
  )

  # The graphs: each a 12 x 6 time series of the stack's region.
  metric_widgets = [
    {
      title  = "Images per minute"
      stat   = "Sum"
      period = 60
      metrics = [
        [local.metrics_namespace, "ImagesDone", "Stack", var.name, { label = "done" }],
        [local.metrics_namespace, "ImagesFailed", "Stack", var.name, { label = "failed" }],
        [local.metrics_namespace, "DuplicatesSkipped", "Stack", var.name, { label = "duplicates skipped" }],
        [local.metrics_namespace, "TransientErrors", "Stack", var.name, { label = "transient errors (retried)" }],
      ]
    },
    {
      title  = "Failures by error code"
      stat   = "Sum"
      period = 300
      metrics = [
        [{ id = "codes", expression = "SEARCH('{${local.metrics_namespace},ErrorCode,Stack} MetricName=\"ImagesFailed\" Stack=\"${var.name}\"', 'Sum', 300)", label = "" }],
      ]
    },
    {
      title  = "Processing time and queue-to-done latency (ms)"
      period = 300
      metrics = [
        [local.metrics_namespace, "ProcessingTime", "Stack", var.name, { stat = "p50", label = "processing p50" }],
        ["...", { stat = "p90", label = "processing p90" }],
        ["...", { stat = "p99", label = "processing p99" }],
        [local.metrics_namespace, "QueueToDoneTime", "Stack", var.name, { stat = "p50", label = "queue to done p50" }],
        ["...", { stat = "p99", label = "queue to done p99" }],
        [local.metrics_namespace, "StatusDelay", "Stack", var.name, { stat = "p99", label = "completion to status p99" }],
      ]
    },
    {
      title  = "Input size"
      period = 300
      metrics = [
        [local.metrics_namespace, "InputBytes", "Stack", var.name, { stat = "p50", label = "bytes p50" }],
        ["...", { stat = "p99", label = "bytes p99" }],
        [local.metrics_namespace, "InputMegapixels", "Stack", var.name, { stat = "p50", label = "megapixels p50", yAxis = "right" }],
        ["...", { stat = "p99", label = "megapixels p99", yAxis = "right" }],
      ]
    },
    {
      title  = "Queues: backlog and dead letters"
      stat   = "Maximum"
      period = 60
      metrics = concat(
        [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.process.name, { label = "process queue" }]],
        [for k, q in local.dlqs : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = "${k} DLQ" }]],
        [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.process.name, { label = "oldest message age (s)", yAxis = "right" }]],
      )
    },
    {
      title   = "Lambda duration p99 (ms)"
      stat    = "p99"
      period  = 300
      metrics = [for k, f in local.functions : ["AWS/Lambda", "Duration", "FunctionName", f, { label = k }]]
    },
    {
      title  = "Lambda errors, throttles and concurrency"
      stat   = "Sum"
      period = 300
      metrics = concat(
        [for k, f in local.functions : ["AWS/Lambda", "Errors", "FunctionName", f, { label = "${k} errors" }]],
        [for k, f in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", f, { label = "${k} throttles" }]],
        [for k, f in local.functions : ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", f, { label = "${k} concurrent", stat = "Maximum", yAxis = "right" }]],
      )
    },
    {
      title  = "Lambda peak memory (MB) of the functions that report it"
      stat   = "Maximum"
      period = 300
      metrics = [
        [{ id = "memory", expression = "SEARCH('{${local.metrics_namespace},Function,Stack} MetricName=\"PeakMemory\" Stack=\"${var.name}\"', 'Maximum', 300)", label = "" }],
      ]
    },
    {
      title  = "API requests and errors"
      stat   = "Sum"
      period = 300
      metrics = [
        ["AWS/ApiGateway", "Count", "ApiName", local.api_dimensions.ApiName, "Stage", local.api_dimensions.Stage, { label = "requests" }],
        ["AWS/ApiGateway", "4XXError", "ApiName", local.api_dimensions.ApiName, "Stage", local.api_dimensions.Stage, { label = "4xx" }],
        ["AWS/ApiGateway", "5XXError", "ApiName", local.api_dimensions.ApiName, "Stage", local.api_dimensions.Stage, { label = "5xx" }],
      ]
    },
    {
      title  = "API latency (ms)"
      period = 300
      metrics = [
        ["AWS/ApiGateway", "Latency", "ApiName", local.api_dimensions.ApiName, "Stage", local.api_dimensions.Stage, { stat = "p50", label = "p50" }],
        ["...", { stat = "p99", label = "p99" }],
        ["AWS/ApiGateway", "IntegrationLatency", "ApiName", local.api_dimensions.ApiName, "Stage", local.api_dimensions.Stage, { stat = "p99", label = "integration p99" }],
      ]
    },
  ]

  dashboard_widgets = concat(
    [
      {
        type = "text", width = 24, height = 2
        properties = {
          markdown = "## imagepipe stack `${var.name}` (${local.region})\nEvery alarm says what to do in its description; the runbook is ${local.runbook}. Metrics of the functions: namespace `${local.metrics_namespace}`, dimension `Stack = ${var.name}`."
        }
      },
      {
        type       = "alarm", width = 24, height = 3
        properties = { title = "Alarms", alarms = [for a in local.alarms : a.arn] }
      },
    ],
    [for w in local.metric_widgets : { type = "metric", width = 12, height = 6, properties = merge({ region = local.region, view = "timeSeries" }, w) }],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
