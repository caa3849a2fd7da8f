# ---------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource (functions, queues, roles, API, archives)."
  type        = string
  default     = "imagepipe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource through the provider's default_tags."
  type        = map(string)
  default     = {}
}

variable "uploads_bucket_name" {
  description = "Name of the uploads bucket. null means \"<name>-uploads-<account id>-<region>\"."
  type        = string
  default     = null
}

variable "processed_bucket_name" {
  description = "Name of the processed bucket. null means \"<name>-processed-<account id>-<region>\"."
  type        = string
  default     = null
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete the buckets even when they still hold objects. Keep false in production."
  type        = bool
  default     = false
}

variable "event_bus_name" {
  description = "Name of the custom EventBridge bus that carries completion events."
  type        = string
  default     = "imagepipe"
}

variable "cors_allowed_origins" {
  description = "Origins (scheme://host[:port]) of upload pages hosted elsewhere than the CloudFront page (which is allowed anyway): allowed to call the API (CORS), to PUT to presigned URLs on the uploads bucket and to GET the outputs from the processed bucket."
  type        = list(string)
  default     = ["http://localhost:8080"]

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", o))])
    error_message = "cors_allowed_origins must be origins as browsers send them: scheme://host[:port] in lower case, no path, no trailing slash (e.g. https://images.example.com)."
  }
}

variable "site_bucket_name" {
  description = "Name of the bucket holding the upload page. null means \"<name>-site-<account id>-<region>\"."
  type        = string
  default     = null
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
  description = "Directory holding presign.zip, process.zip and notify.zip (built by `make lambda`). null means <repo>/dist."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (functions and API access logs), in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "application_log_level" {
  description = "Lowest application log level Lambda forwards to CloudWatch (JSON log format): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "presign_memory_mb" {
  description = "Memory of the presign function, in MB."
  type        = number
  default     = 256
}

variable "presign_timeout_seconds" {
  description = "Timeout of the presign function, in seconds (API Gateway itself gives up after 29 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.presign_timeout_seconds >= 1 && var.presign_timeout_seconds <= 29
    error_message = "presign_timeout_seconds must be between 1 and 29."
  }
}

variable "process_memory_mb" {
  description = "Memory of the process (image worker) function, in MB. CPU scales with memory."
  type        = number
  default     = 1536
}

variable "process_timeout_seconds" {
  description = "Timeout of the process function, in seconds. The queue's visibility timeout is derived from it (6 x timeout + batching window)."
  type        = number
  default     = 60

  validation {
    condition     = var.process_timeout_seconds >= 1 && var.process_timeout_seconds <= 900
    error_message = "process_timeout_seconds must be between 1 and 900."
  }
}

variable "notify_memory_mb" {
  description = "Memory of the notify function, in MB."
  type        = number
  default     = 128
}

variable "notify_timeout_seconds" {
  description = "Timeout of the notify function, in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.notify_timeout_seconds >= 1 && var.notify_timeout_seconds <= 900
    error_message = "notify_timeout_seconds must be between 1 and 900."
  }
}

# ---------------------------------------------------------------------------
# Function settings (environment variables)
# ---------------------------------------------------------------------------

variable "max_upload_bytes" {
  description = "Largest image a client may ask a presigned upload URL for, in bytes (presign MAX_UPLOAD_BYTES)."
  type        = number
  default     = 26214400
}

variable "raw_upload_max_bytes" {
  description = "Largest body accepted by POST /v1/images/upload, in bytes (presign RAW_UPLOAD_MAX_BYTES). API Gateway hands the body to Lambda base64-encoded and a synchronous invocation carries at most 6 MB, so the limit on AWS is about 4.4 MB (the function's own default, 5 MiB, only fits the local stack)."
  type        = number
  default     = 4194304

  validation {
    condition     = var.raw_upload_max_bytes > 0 && var.raw_upload_max_bytes <= 4456448
    error_message = "raw_upload_max_bytes must be between 1 and 4456448: its base64 plus the request envelope must fit Lambda's 6 MB invocation payload."
  }
}

variable "upload_url_ttl" {
  description = "Lifetime of a presigned upload URL, as a Go duration (presign UPLOAD_URL_TTL)."
  type        = string
  default     = "5m"
}

variable "download_url_ttl" {
  description = "Lifetime of the presigned download URLs of the outputs, as a Go duration (presign DOWNLOAD_URL_TTL). A URL never outlives the credentials that signed it: on Lambda at most an hour."
  type        = string
  default     = "1h"
}

variable "max_input_bytes" {
  description = "Largest source object the worker reads, in bytes (process MAX_INPUT_BYTES)."
  type        = number
  default     = 26214400
}

variable "max_pixels" {
  description = "Largest image the worker decodes, in pixels, checked before decoding (process MAX_PIXELS)."
  type        = number
  default     = 50000000
}

variable "jpeg_quality" {
  description = "JPEG quality of the outputs, 1-100 (process JPEG_QUALITY)."
  type        = number
  default     = 85

  validation {
    condition     = var.jpeg_quality >= 1 && var.jpeg_quality <= 100
    error_message = "jpeg_quality must be between 1 and 100."
  }
}

variable "thumbnail_sizes" {
  description = "Thumbnail bounding-box sizes in pixels (process THUMBNAIL_SIZES, comma-joined)."
  type        = list(number)
  default     = [256]
}

# ---------------------------------------------------------------------------
# Queue and event source mapping
# ---------------------------------------------------------------------------

variable "queue_max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 3
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queues keep messages, in seconds (max 14 days)."
  type        = number
  default     = 1209600
}

variable "process_batch_size" {
  description = "Maximum number of messages handed to one process invocation."
  type        = number
  default     = 10
}

variable "process_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking, in seconds."
  type        = number
  default     = 0
}

variable "process_max_concurrency" {
  description = "Maximum concurrent process invocations the SQS event source mapping starts (2-1000)."
  type        = number
  default     = 5

  validation {
    condition     = var.process_max_concurrency >= 2 && var.process_max_concurrency <= 1000
    error_message = "process_max_concurrency must be between 2 and 1000."
  }
}

# ---------------------------------------------------------------------------
# EventBridge
# ---------------------------------------------------------------------------

variable "archive_retention_days" {
  description = "Retention of the event archives on the default and the imagepipe bus, in days (0 = forever)."
  type        = number
  default     = 14
}

variable "event_target_max_age_seconds" {
  description = "Retry policy of the rule targets: oldest event EventBridge still tries to deliver, in seconds (60-86400)."
  type        = number
  default     = 3600
}

variable "event_target_max_retries" {
  description = "Retry policy of the rule targets: delivery attempts before the event goes to the events DLQ (0-185)."
  type        = number
  default     = 10
}

# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------

variable "api_stage_name" {
  description = "Name of the API Gateway stage; the API URL ends in /<stage>."
  type        = string
  default     = "prod"
}

variable "api_rate_limit" {
  description = "Usage plan steady-state request rate, requests per second."
  type        = number
  default     = 10
}

variable "api_burst_limit" {
  description = "Usage plan burst, requests."
  type        = number
  default     = 20
}

variable "api_quota_limit" {
  description = "Usage plan quota: requests per quota period."
  type        = number
  default     = 10000
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
  description = "E-mail address subscribed (through SNS) to the dead-letter queue alarms. null means no SNS topic; the alarms still exist."
  type        = string
  default     = null
}

variable "dlq_alarm_threshold" {
  description = "Visible messages in a dead-letter queue that raise the alarm."
  type        = number
  default     = 1
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
