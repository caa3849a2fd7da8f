output "page_url" {
  description = "Address of the upload page (CloudFront, HTTPS); its /v1/* is the API."
  value       = "https://${aws_cloudfront_distribution.site.domain_name}/"
}

output "site_bucket" {
  description = "Name of the bucket holding the upload page's files and config.json."
  value       = aws_s3_bucket.site.bucket
}

output "cloudfront_distribution_id" {
  description = "Id of the page's CloudFront distribution (for invalidations)."
  value       = aws_cloudfront_distribution.site.id
}

output "api_url" {
  description = "Base URL of the API stage; routes are <api_url>/v1/uploads and <api_url>/v1/images/{id}."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_key_id" {
  description = "Id of the API key (aws apigateway get-api-key --include-value --api-key <id>)."
  value       = aws_api_gateway_api_key.this.id
}

output "api_key" {
  description = "Value of the API key, sent as x-api-key."
  value       = aws_api_gateway_api_key.this.value
  sensitive   = true
}

output "uploads_bucket" {
  description = "Name of the uploads bucket."
  value       = aws_s3_bucket.uploads.bucket
}

output "processed_bucket" {
  description = "Name of the processed bucket."
  value       = aws_s3_bucket.processed.bucket
}

output "event_bus_name" {
  description = "Name of the custom bus carrying completion events."
  value       = aws_cloudwatch_event_bus.imagepipe.name
}

output "uploads_archive_name" {
  description = "Archive of the S3 upload events on the default bus (replay it to re-process a time window)."
  value       = aws_cloudwatch_event_archive.uploads.name
}

output "completions_archive_name" {
  description = "Archive of every event on the imagepipe bus."
  value       = aws_cloudwatch_event_archive.completions.name
}

output "process_queue_url" {
  description = "URL of the process queue."
  value       = aws_sqs_queue.process.id
}

output "process_dlq_url" {
  description = "URL of the process queue's dead-letter queue: upload events whose receives ran out, their images already marked failed (retries_exhausted) by the deadletter function. Redrive them to the process queue to process them again."
  value       = aws_sqs_queue.process_dlq.id
}

output "process_dlq_inbox_url" {
  description = "URL of the queue the process queue redrives to; the deadletter function consumes it and parks each message in process_dlq_url."
  value       = aws_sqs_queue.process_dlq_inbox.id
}

output "events_dlq_inbox_url" {
  description = "URL of the queue EventBridge rule targets and notify's failed invocations send to; the deadletter function consumes it and parks each message in events_dlq_url."
  value       = aws_sqs_queue.events_dlq_inbox.id
}

output "events_dlq_url" {
  description = "URL of the queue holding events EventBridge could not deliver to a rule target and completion events the notify function kept failing on, once the deadletter function has handled them."
  value       = aws_sqs_queue.events_dlq.id
}

output "tap_queue_url" {
  description = "URL of the emulator's completions tap queue; null unless emulator = true."
  value       = one(aws_sqs_queue.tap[*].id)
}

output "function_names" {
  description = "Lambda function names by role: presign, process, notify, deadletter."
  value       = local.functions
}

output "rule_arns" {
  description = "ARNs of the EventBridge rules, by pattern file name."
  value = {
    "uploads-to-queue"      = aws_cloudwatch_event_rule.uploads_to_queue.arn
    "completions-to-notify" = aws_cloudwatch_event_rule.completions_to_notify.arn
  }
}

output "function_environment" {
  description = "Environment variables of each function (what the handlers' ConfigFromEnv read), by function role; the moto test runs the handlers with exactly these."
  value = {
    presign    = aws_lambda_function.presign.environment[0].variables
    process    = aws_lambda_function.process.environment[0].variables
    notify     = aws_lambda_function.notify.environment[0].variables
    deadletter = aws_lambda_function.deadletter.environment[0].variables
  }
}

locals {
  # Every function by role, and what invokes it (trigger.type apigateway,
  # sqs or eventbridge, with the settings AWS applies): the `functions`
  # output that the moto test's runtime emulator harness reads.
  lambda_functions = {
    presign    = aws_lambda_function.presign
    process    = aws_lambda_function.process
    notify     = aws_lambda_function.notify
    deadletter = aws_lambda_function.deadletter
  }
  function_triggers = {
    presign = {
      type                   = "apigateway"
      stage                  = aws_api_gateway_stage.this.stage_name
      routes                 = keys(local.api_routes)
      routes_without_api_key = [for k, m in aws_api_gateway_method.route : k if !m.api_key_required]
      binary_media_types     = aws_api_gateway_rest_api.this.binary_media_types
      api_key_id             = aws_api_gateway_api_key.this.id
      gateway_responses = {
        for k, r in aws_api_gateway_gateway_response.this : k => {
          status_code         = r.status_code == null || r.status_code == "" ? 0 : tonumber(r.status_code)
          response_parameters = r.response_parameters
          response_templates  = r.response_templates
        }
      }
    }
    process = merge(local.process_event_source, {
      type      = "sqs"
      queue_url = aws_sqs_queue.process.id
      queue_arn = aws_sqs_queue.process.arn
    })
    notify = {
      type                         = "eventbridge"
      rule_arn                     = aws_cloudwatch_event_rule.completions_to_notify.arn
      maximum_retry_attempts       = aws_lambda_function_event_invoke_config.notify.maximum_retry_attempts
      maximum_event_age_in_seconds = aws_lambda_function_event_invoke_config.notify.maximum_event_age_in_seconds
      on_failure_queue_url         = aws_sqs_queue.events_dlq_inbox.id
      emulator_queue_url           = one(aws_sqs_queue.tap[*].id)
    }
    # Two mappings with the same settings; the trigger names the process
    # inbox's, other_queue_urls the rest.
    deadletter = merge(local.deadletter_event_source, {
      type             = "sqs"
      queue_url        = aws_sqs_queue.process_dlq_inbox.id
      queue_arn        = aws_sqs_queue.process_dlq_inbox.arn
      other_queue_urls = [aws_sqs_queue.events_dlq_inbox.id]
    })
  }
}

output "functions" {
  description = "Each function's settings and what invokes it, by role (trigger.type: apigateway, sqs or eventbridge, with the settings AWS applies). The moto test runs the real binaries under the Lambda runtime emulator from this; with emulator = true an eventbridge trigger's events wait in emulator_queue_url. log_format is null where the provider reads none back (moto)."
  value = {
    for role, f in local.lambda_functions : role => {
      function_name = f.function_name
      memory_size   = f.memory_size
      timeout       = f.timeout
      log_format    = one(f.logging_config[*].log_format)
      log_level     = var.application_log_level
      trigger       = local.function_triggers[role]
    }
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the stack (throughput, latency, failures by code, queues, functions, API)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Names of the stack's CloudWatch alarms; each description says what to do and links its runbook section."
  value       = sort([for a in local.alarms : a.alarm_name])
}

output "operator_policy_arn" {
  description = "IAM policy with what the imagepipe CLI's --aws commands (events tail, dlq list|redrive, retry) need on this stack; attach it to the operator's role or user."
  value       = aws_iam_policy.operator.arn
}
