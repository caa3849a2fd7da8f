# ---------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into (role and bucket names include it, so one account can hold a stack per region)."
  type        = string
  default     = "us-east-1"

  validation {
    # The longest region names today have 15 characters (us-isof-south-1);
    # bucket names are sized for that (see name).
    condition     = can(regex("^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$", var.region)) && length(var.region) <= 15
    error_message = "region must be an AWS region name such as eu-west-1 (at most 15 characters)."
  }
}

variable "name" {
  description = "Name of the stack (2-24 lowercase letters, digits or hyphens): prefix of every resource (functions, queues, roles, buses, rules, archives, alarms, dashboard, buckets) and the Stack dimension of the metrics. Two stacks with different names live side by side in one account and region."
  type        = string
  default     = "imagepipe"

  validation {
    # 24 characters keep "<name>-processed-<account>-<region>" within S3's
    # 63 and "<name>-apigateway-logs-<region>" within IAM's 64 for every
    # region (hcl_test.go checks every name for the longest allowed value).
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name must be 2-24 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource through the provider's default_tags (besides Project and imagepipe:stack, which the CLI looks the stack up by)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 40 && length([for k, v in var.tags : k if length(k) < 1 || length(k) > 128 || length(v) > 256 || can(regex("^(?i)aws:", k))]) == 0
    error_message = "tags must be at most 40 tags with keys of 1-128 characters not starting with aws: and values of at most 256 characters (AWS allows 50 per resource; the stack adds its own)."
  }
}

variable "uploads_bucket_name" {
  description = "Name of the uploads bucket. null means \"<name>-uploads-<account id>-<region>\"."
  type        = string
  default     = null

  validation {
    condition = var.uploads_bucket_name == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_name)) &&
      !can(regex("\\.\\.|^xn--|^sthree-|-s3alias$|--ol-s3$|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.uploads_bucket_name))
    )
    error_message = "uploads_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit (no \"..\", no IP address, no xn-- prefix or -s3alias suffix)."
  }
}

variable "processed_bucket_name" {
  description = "Name of the processed bucket. null means \"<name>-processed-<account id>-<region>\"."
  type        = string
  default     = null

  validation {
    condition = var.processed_bucket_name == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.processed_bucket_name)) &&
      !can(regex("\\.\\.|^xn--|^sthree-|-s3alias$|--ol-s3$|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.processed_bucket_name))
    )
    error_message = "processed_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit (no \"..\", no IP address, no xn-- prefix or -s3alias suffix)."
  }
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete the buckets with every object in them (uploads, outputs, status records). false (the default): destroy stops with BucketNotEmpty while a bucket holds objects, and everything else is already gone. Takes effect once applied: apply it, then destroy."
  type        = bool
  default     = false
}

variable "event_bus_name" {
  description = "Name of the custom EventBridge bus that carries completion events. null means the stack's name."
  type        = string
  default     = null

  validation {
    condition     = var.event_bus_name == null || (can(regex("^[A-Za-z0-9._-]{1,256}$", var.event_bus_name)) && var.event_bus_name != "default" && !can(regex("^aws\\.", var.event_bus_name)))
    error_message = "event_bus_name must be 1-256 letters, digits, dots, hyphens or underscores, not \"default\" and not starting with \"aws.\"."
  }
}

variable "cors_allowed_origins" {
  description = "Origins (scheme://host[:port]) of upload pages hosted elsewhere than the CloudFront page (which is allowed anyway): allowed to call the API (CORS), to PUT to presigned URLs on the uploads bucket and to GET the outputs from the processed bucket."
  type        = list(string)
  default     = ["http://localhost:8080"]

  validation {
    condition     = length(var.cors_allowed_origins) <= 100 && alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", o))])
    error_message = "cors_allowed_origins must be at most 100 origins (S3's limit) as browsers send them: scheme://host[:port] in lower case, no path, no trailing slash (e.g. https://images.example.com)."
  }
}

variable "site_bucket_name" {
  description = "Name of the bucket holding the upload page. null means \"<name>-site-<account id>-<region>\"."
  type        = string
  default     = null

  validation {
    condition = var.site_bucket_name == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.site_bucket_name)) &&
      !can(regex("\\.\\.|^xn--|^sthree-|-s3alias$|--ol-s3$|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.site_bucket_name))
    )
    error_message = "site_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit (no \"..\", no IP address, no xn-- prefix or -s3alias suffix)."
  }
}

variable "site_price_class" {
  description = "CloudFront price class of the page's distribution: PriceClass_100, PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.site_price_class)
    error_message = "site_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

# ---------------------------------------------------------------------------
# Lambda functions
# ---------------------------------------------------------------------------

variable "lambda_dist_dir" {
  description = "Directory holding presign.zip, process.zip, notify.zip and deadletter.zip (built by `make lambda`). null means <repo>/dist."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (functions and API access logs), in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "application_log_level" {
  description = "Lowest application log level Lambda forwards to CloudWatch (JSON log format): TRACE, DEBUG or INFO. The functions' metrics (embedded metric format) travel in INFO lines, so a higher level would silently drop every metric and mute the alarms built on them."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO"], var.application_log_level)
    error_message = "application_log_level must be TRACE, DEBUG or INFO: the metrics are INFO log lines, and WARN, ERROR or FATAL would drop them (and mute the alarms on them)."
  }
}

variable "presign_memory_mb" {
  description = "Memory of the presign function, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.presign_memory_mb >= 128 && var.presign_memory_mb <= 10240 && floor(var.presign_memory_mb) == var.presign_memory_mb
    error_message = "presign_memory_mb must be a whole number of MB between 128 and 10240 (Lambda's range)."
  }
}

variable "presign_timeout_seconds" {
  description = "Timeout of the presign function, in seconds (API Gateway itself gives up after 29 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.presign_timeout_seconds >= 1 && var.presign_timeout_seconds <= 29 && floor(var.presign_timeout_seconds) == var.presign_timeout_seconds
    error_message = "presign_timeout_seconds must be a whole number between 1 and 29."
  }
}

variable "process_memory_mb" {
  description = "Memory of the process (image worker) function, in MB. CPU scales with memory."
  type        = number
  default     = 1536

  validation {
    condition     = var.process_memory_mb >= 128 && var.process_memory_mb <= 10240 && floor(var.process_memory_mb) == var.process_memory_mb
    error_message = "process_memory_mb must be a whole number of MB between 128 and 10240 (Lambda's range)."
  }
}

variable "process_timeout_seconds" {
  description = "Timeout of the process function, in seconds. The queue's visibility timeout is derived from it (6 x timeout + batching window)."
  type        = number
  default     = 60

  validation {
    condition     = var.process_timeout_seconds >= 1 && var.process_timeout_seconds <= 900 && floor(var.process_timeout_seconds) == var.process_timeout_seconds
    error_message = "process_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "process_start_margin_seconds" {
  description = "The process function starts no image with less than this left before its timeout; the rest of the batch is returned as batchItemFailures (process START_MARGIN)."
  type        = number
  default     = 10

  validation {
    condition     = var.process_start_margin_seconds >= 0 && var.process_start_margin_seconds < var.process_timeout_seconds && floor(var.process_start_margin_seconds) == var.process_start_margin_seconds
    error_message = "process_start_margin_seconds must be a whole number from 0 to less than process_timeout_seconds (with a margin as long as the timeout the function would start no image)."
  }
}

variable "notify_memory_mb" {
  description = "Memory of the notify function, in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.notify_memory_mb >= 128 && var.notify_memory_mb <= 10240 && floor(var.notify_memory_mb) == var.notify_memory_mb
    error_message = "notify_memory_mb must be a whole number of MB between 128 and 10240 (Lambda's range)."
  }
}

variable "notify_timeout_seconds" {
  description = "Timeout of the notify function, in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.notify_timeout_seconds >= 1 && var.notify_timeout_seconds <= 900 && floor(var.notify_timeout_seconds) == var.notify_timeout_seconds
    error_message = "notify_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "deadletter_memory_mb" {
  description = "Memory of the deadletter function, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.deadletter_memory_mb >= 128 && var.deadletter_memory_mb <= 10240 && floor(var.deadletter_memory_mb) == var.deadletter_memory_mb
    error_message = "deadletter_memory_mb must be a whole number of MB between 128 and 10240 (Lambda's range)."
  }
}

variable "deadletter_timeout_seconds" {
  description = "Timeout of the deadletter function, in seconds. The dead-letter inboxes' visibility timeout is 6 x this."
  type        = number
  default     = 30

  validation {
    condition     = var.deadletter_timeout_seconds >= 1 && var.deadletter_timeout_seconds <= 900 && floor(var.deadletter_timeout_seconds) == var.deadletter_timeout_seconds
    error_message = "deadletter_timeout_seconds must be a whole number between 1 and 900."
  }
}

# ---------------------------------------------------------------------------
# Function settings (environment variables)
# ---------------------------------------------------------------------------

variable "max_upload_bytes" {
  description = "Largest image a client may ask a presigned upload URL for, in bytes (presign MAX_UPLOAD_BYTES)."
  type        = number
  default     = 26214400

  validation {
    condition     = var.max_upload_bytes >= 1 && var.max_upload_bytes <= 5368709120 && floor(var.max_upload_bytes) == var.max_upload_bytes
    error_message = "max_upload_bytes must be a whole number of bytes between 1 and 5368709120 (5 GiB, the largest single PUT S3 takes)."
  }
}

variable "raw_upload_max_bytes" {
  description = "Largest body accepted by POST /v1/images/upload, in bytes (presign RAW_UPLOAD_MAX_BYTES). API Gateway hands the body to Lambda base64-encoded and a synchronous invocation carries at most 6 MB, so the limit on AWS is about 4.4 MB (the function's own default, 5 MiB, only fits the local stack)."
  type        = number
  default     = 4194304

  validation {
    condition     = var.raw_upload_max_bytes > 0 && var.raw_upload_max_bytes <= 4456448 && floor(var.raw_upload_max_bytes) == var.raw_upload_max_bytes
    error_message = "raw_upload_max_bytes must be between 1 and 4456448: its base64 plus the request envelope must fit Lambda's 6 MB invocation payload."
  }
}

variable "upload_url_ttl" {
  description = "Lifetime of a presigned upload URL, as a Go duration in s, m or h (presign UPLOAD_URL_TTL), at most 168h (SigV4). The URL is signed with the function's temporary credentials and stops working when they expire, which can be sooner than a long TTL."
  type        = string
  default     = "5m"

  validation {
    condition     = try(tonumber(substr(var.upload_url_ttl, 0, length(var.upload_url_ttl) - 1)) * lookup({ s = 1, m = 60, h = 3600 }, substr(var.upload_url_ttl, length(var.upload_url_ttl) - 1, 1), 0) <= 604800 && can(regex("^[1-9][0-9]*[smh]$", var.upload_url_ttl)), false)
    error_message = "upload_url_ttl must be a whole number of seconds, minutes or hours such as 300s, 5m or 1h, at most 7 days (168h): SigV4 presigned URLs last no longer."
  }
}

variable "download_url_ttl" {
  description = "Lifetime of the presigned download URLs of the outputs, as a Go duration (presign DOWNLOAD_URL_TTL). A URL never outlives the credentials that signed it: on Lambda at most an hour."
  type        = string
  default     = "1h"

  validation {
    condition     = try(tonumber(substr(var.download_url_ttl, 0, length(var.download_url_ttl) - 1)) * lookup({ s = 1, m = 60, h = 3600 }, substr(var.download_url_ttl, length(var.download_url_ttl) - 1, 1), 0) <= 604800 && can(regex("^[1-9][0-9]*[smh]$", var.download_url_ttl)), false)
    error_message = "download_url_ttl must be a whole number of seconds, minutes or hours such as 300s, 30m or 1h, at most 7 days (168h): SigV4 presigned URLs last no longer."
  }
}

variable "max_input_bytes" {
  description = "Largest source object the worker reads, in bytes (process MAX_INPUT_BYTES)."
  type        = number
  default     = 26214400

  validation {
    condition     = var.max_input_bytes >= 1 && var.max_input_bytes <= 5368709120 && floor(var.max_input_bytes) == var.max_input_bytes
    error_message = "max_input_bytes must be a whole number of bytes between 1 and 5368709120 (5 GiB)."
  }
}

variable "max_pixels" {
  description = "Largest image the worker decodes, in pixels, checked before decoding (process MAX_PIXELS)."
  type        = number
  default     = 50000000

  validation {
    condition     = var.max_pixels >= 1 && floor(var.max_pixels) == var.max_pixels
    error_message = "max_pixels must be a whole number of at least 1."
  }
}

variable "jpeg_quality" {
  description = "JPEG quality of the outputs, 1-100 (process JPEG_QUALITY)."
  type        = number
  default     = 85

  validation {
    condition     = var.jpeg_quality >= 1 && var.jpeg_quality <= 100 && floor(var.jpeg_quality) == var.jpeg_quality
    error_message = "jpeg_quality must be a whole number between 1 and 100."
  }
}

variable "thumbnail_sizes" {
  description = "Thumbnail bounding-box sizes in pixels (process THUMBNAIL_SIZES, comma-joined)."
  type        = list(number)
  default     = [256]

  validation {
    condition     = length(var.thumbnail_sizes) >= 1 && length([for t in var.thumbnail_sizes : t if t < 16 || t > 4096 || floor(t) != t]) == 0
    error_message = "thumbnail_sizes must hold at least one whole number of pixels between 16 and 4096."
  }
}

# ---------------------------------------------------------------------------
# Queue and event source mapping
# ---------------------------------------------------------------------------

variable "queue_max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter inbox (AWS advises at least 5 behind a Lambda event source mapping: throttled receives count too)."
  type        = number
  default     = 5

  validation {
    condition     = var.queue_max_receive_count >= 1 && var.queue_max_receive_count <= 1000 && floor(var.queue_max_receive_count) == var.queue_max_receive_count
    error_message = "queue_max_receive_count must be a whole number between 1 and 1000 (SQS redrive policy)."
  }
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queues keep messages, in seconds: 4 to 14 days. A message moved to a DLQ keeps its original enqueue time, so the DLQ must keep messages at least as long as the process queue (4 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 345600 && var.dlq_retention_seconds <= 1209600 && floor(var.dlq_retention_seconds) == var.dlq_retention_seconds
    error_message = "dlq_retention_seconds must be a whole number between 345600 (the process queue's 4 days: a moved message keeps its first enqueue time, so a shorter retention would drop it at once) and 1209600 (14 days, the SQS maximum)."
  }
}

variable "process_batch_size" {
  description = "Maximum number of messages handed to one process invocation (1-10000; above 10 Lambda requires process_batching_window_seconds >= 1)."
  type        = number
  default     = 10

  validation {
    condition     = var.process_batch_size >= 1 && var.process_batch_size <= 10000 && floor(var.process_batch_size) == var.process_batch_size && (var.process_batch_size <= 10 || var.process_batching_window_seconds >= 1)
    error_message = "process_batch_size must be a whole number between 1 and 10000, and above 10 it needs process_batching_window_seconds of at least 1 (Lambda refuses a larger batch without a batching window)."
  }
}

variable "process_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking, in seconds (0-300)."
  type        = number
  default     = 0

  validation {
    condition     = var.process_batching_window_seconds >= 0 && var.process_batching_window_seconds <= 300 && floor(var.process_batching_window_seconds) == var.process_batching_window_seconds
    error_message = "process_batching_window_seconds must be a whole number between 0 and 300."
  }
}

variable "process_max_concurrency" {
  description = "Maximum concurrent process invocations the SQS event source mapping starts (2-1000)."
  type        = number
  default     = 5

  validation {
    condition     = var.process_max_concurrency >= 2 && var.process_max_concurrency <= 1000 && floor(var.process_max_concurrency) == var.process_max_concurrency
    error_message = "process_max_concurrency must be a whole number between 2 and 1000."
  }
}

# ---------------------------------------------------------------------------
# EventBridge
# ---------------------------------------------------------------------------

variable "archive_retention_days" {
  description = "Retention of the event archives on the default and the imagepipe bus, in days (0 = forever)."
  type        = number
  default     = 14

  validation {
    condition     = var.archive_retention_days >= 0 && var.archive_retention_days <= 2147483647 && floor(var.archive_retention_days) == var.archive_retention_days
    error_message = "archive_retention_days must be a whole number of days, 0 (keep forever) or more."
  }
}

variable "event_target_max_age_seconds" {
  description = "Retry policy of the rule targets: oldest event EventBridge still tries to deliver, in seconds (60-86400)."
  type        = number
  default     = 3600

  validation {
    condition     = var.event_target_max_age_seconds >= 60 && var.event_target_max_age_seconds <= 86400 && floor(var.event_target_max_age_seconds) == var.event_target_max_age_seconds
    error_message = "event_target_max_age_seconds must be a whole number between 60 and 86400 (EventBridge retry policy)."
  }
}

variable "notify_max_event_age_seconds" {
  description = "Oldest completion event Lambda's asynchronous queue still hands to the notify function, in seconds (60-21600); older ones go to the events DLQ."
  type        = number
  default     = 3600

  validation {
    condition     = var.notify_max_event_age_seconds >= 60 && var.notify_max_event_age_seconds <= 21600 && floor(var.notify_max_event_age_seconds) == var.notify_max_event_age_seconds
    error_message = "notify_max_event_age_seconds must be a whole number between 60 and 21600 (Lambda asynchronous invocation's maximum event age)."
  }
}

variable "event_target_max_retries" {
  description = "Retry policy of the rule targets: delivery attempts before the event goes to the events DLQ (0-185)."
  type        = number
  default     = 10

  validation {
    condition     = var.event_target_max_retries >= 0 && var.event_target_max_retries <= 185 && floor(var.event_target_max_retries) == var.event_target_max_retries
    error_message = "event_target_max_retries must be a whole number between 0 and 185 (EventBridge retry policy)."
  }
}

# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------

variable "api_stage_name" {
  description = "Name of the API Gateway stage; the API URL ends in /<stage>."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.api_stage_name))
    error_message = "api_stage_name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "api_rate_limit" {
  description = "Usage plan steady-state request rate, requests per second."
  type        = number
  default     = 10

  validation {
    condition     = var.api_rate_limit > 0 && var.api_rate_limit <= 10000
    error_message = "api_rate_limit must be more than 0 and at most 10000 requests per second (API Gateway's default account limit)."
  }
}

variable "api_burst_limit" {
  description = "Usage plan burst, requests."
  type        = number
  default     = 20

  validation {
    condition     = var.api_burst_limit >= 1 && var.api_burst_limit <= 5000 && floor(var.api_burst_limit) == var.api_burst_limit
    error_message = "api_burst_limit must be a whole number between 1 and 5000 (API Gateway's default account burst)."
  }
}

variable "api_quota_limit" {
  description = "Usage plan quota: requests per quota period."
  type        = number
  default     = 10000

  validation {
    condition     = var.api_quota_limit >= 1 && floor(var.api_quota_limit) == var.api_quota_limit
    error_message = "api_quota_limit must be a whole number of requests, at least 1."
  }
}

variable "api_quota_period" {
  description = "Usage plan quota period: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.api_quota_period)
    error_message = "api_quota_period must be DAY, WEEK or MONTH."
  }
}

variable "manage_api_gateway_account" {
  description = "Set the region-wide API Gateway account CloudWatch role (needed once per account and region for stage access logs). Turn off when another stack already manages it."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

variable "alarm_email" {
  description = "E-mail address subscribed (through SNS) to every alarm. null means no SNS topic; the alarms still exist."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address (or null for no e-mail)."
  }
}

variable "dlq_alarm_threshold" {
  description = "Visible messages in a dead-letter queue that raise the alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.dlq_alarm_threshold >= 1 && floor(var.dlq_alarm_threshold) == var.dlq_alarm_threshold
    error_message = "dlq_alarm_threshold must be a whole number of messages, at least 1."
  }
}

variable "alarm_topic_arns" {
  description = "ARNs of existing SNS topics (a pager, a chat channel) that receive every alarm and its recovery, besides alarm_email."
  type        = list(string)
  default     = []

  validation {
    condition     = length([for a in var.alarm_topic_arns : a if !can(regex("^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", a))]) == 0
    error_message = "alarm_topic_arns must hold SNS topic ARNs (arn:<partition>:sns:<region>:<account>:<topic>)."
  }
}

variable "runbook_url" {
  description = "Address of docs/runbook.md as the on-call engineer reads it; every alarm description ends with <runbook_url>#<section>."
  type        = string
  default     = "https://github.com/imagepipe/imagepipe/blob/main/docs/runbook.md"

  validation {
    condition     = can(regex("^https?://[^\\s#]+$", var.runbook_url)) && length(var.runbook_url) <= 200
    error_message = "runbook_url must be an http(s) address without a #fragment, at most 200 characters (alarm descriptions are limited to 1024)."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Age of the oldest message in the process queue that raises the backlog alarm, in seconds. A message retried after a transient failure waits a visibility timeout (6 x process_timeout_seconds) between attempts."
  type        = number
  default     = 900

  validation {
    condition     = var.oldest_message_alarm_seconds >= 60 && var.oldest_message_alarm_seconds <= 1209600 && floor(var.oldest_message_alarm_seconds) == var.oldest_message_alarm_seconds
    error_message = "oldest_message_alarm_seconds must be a whole number of seconds between 60 and 1209600."
  }
}

variable "api_5xx_alarm_threshold" {
  description = "API responses with a 5xx status within 5 minutes that raise the API errors alarm."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_alarm_threshold >= 1 && floor(var.api_5xx_alarm_threshold) == var.api_5xx_alarm_threshold
    error_message = "api_5xx_alarm_threshold must be a whole number of responses, at least 1."
  }
}

variable "api_latency_alarm_ms" {
  description = "p99 API latency, in milliseconds, that raises the API latency alarm when exceeded for 15 minutes."
  type        = number
  default     = 3000

  validation {
    condition     = var.api_latency_alarm_ms >= 50 && var.api_latency_alarm_ms <= 29000
    error_message = "api_latency_alarm_ms must be between 50 and 29000 (API Gateway gives up after 29 s)."
  }
}

variable "failure_rate_alarm_percent" {
  description = "Share of images failed (permanent failures and retries exhausted, over done + failed) within 15 minutes that raises the failure rate alarm, in percent."
  type        = number
  default     = 10

  validation {
    condition     = var.failure_rate_alarm_percent > 0 && var.failure_rate_alarm_percent <= 100
    error_message = "failure_rate_alarm_percent must be more than 0 and at most 100."
  }
}

variable "failure_rate_alarm_min_images" {
  description = "Images (done + failed) within 15 minutes below which the failure rate alarm stays quiet, so that one bad upload at night pages nobody."
  type        = number
  default     = 10

  validation {
    condition     = var.failure_rate_alarm_min_images >= 1 && floor(var.failure_rate_alarm_min_images) == var.failure_rate_alarm_min_images
    error_message = "failure_rate_alarm_min_images must be a whole number of images, at least 1."
  }
}

# ---------------------------------------------------------------------------
# Emulator (tests)
# ---------------------------------------------------------------------------

variable "emulator" {
  description = "Deploy to an emulator (moto_server) that cannot run Lambdas nor evaluate policy conditions: no Lambda rule target and no SQS event source mapping but an SQS tap queue on the completions rule, and no TLS-only bucket policies. Everything else is the production graph."
  type        = bool
  default     = false
}

variable "aws_endpoint_url" {
  description = "Endpoint of an AWS emulator (e.g. http://127.0.0.1:5000) used for every service; also relaxes the provider's credential checks. null for real AWS."
  type        = string
  default     = null
}
