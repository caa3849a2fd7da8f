# REST API in front of the presign function. Every route needs an API key
# (x-api-key); API Gateway answers 403 {"message":"Forbidden"} without one.
# The page reaches it on its own origin through CloudFront (site.tf); pages
# on other origins (var.cors_allowed_origins) through CORS: OPTIONS routes
# without a key, answered by the function (the same code answers locally),
# and gateway responses that carry the CORS headers on API Gateway's own
# errors.

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "imagepipe HTTP API (DESIGN.md §3)."

  # Every body reaches the function base64-encoded, whatever Content-Type
  # the client sent (curl --data-binary sends
  # application/x-www-form-urlencoded), so POST /v1/images/upload gets the
  # raw image unmangled; the function decodes JSON bodies the same way. Its
  # text answers (isBase64Encoded false) pass through as they are.
  binary_media_types = ["*/*"]

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "uploads" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "uploads"
}

resource "aws_api_gateway_resource" "images" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "images"
}

resource "aws_api_gateway_resource" "image" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.images.id
  path_part   = "{id}"
}

resource "aws_api_gateway_resource" "raw_upload" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.images.id
  path_part   = "upload"
}

locals {
  # route => API resource id; every route is a Lambda proxy to presign.
  # The OPTIONS routes answer CORS preflights: no API key (browsers send
  # none), proxied to the function like the rest (a MOCK integration could
  # only answer one fixed origin, and with binary_media_types "*/*" its
  # request template is not applied).
  api_routes = {
    "POST /v1/uploads"          = aws_api_gateway_resource.uploads.id
    "GET /v1/images"            = aws_api_gateway_resource.images.id
    "GET /v1/images/{id}"       = aws_api_gateway_resource.image.id
    "POST /v1/images/upload"    = aws_api_gateway_resource.raw_upload.id
    "OPTIONS /v1/uploads"       = aws_api_gateway_resource.uploads.id
    "OPTIONS /v1/images"        = aws_api_gateway_resource.images.id
    "OPTIONS /v1/images/{id}"   = aws_api_gateway_resource.image.id
    "OPTIONS /v1/images/upload" = aws_api_gateway_resource.raw_upload.id
  }
}

resource "aws_api_gateway_method" "route" {
  for_each = local.api_routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = each.value
  http_method      = split(" ", each.key)[0]
  authorization    = "NONE"
  api_key_required = split(" ", each.key)[0] != "OPTIONS"
  request_parameters = strcontains(each.key, "{id}") ? {
    "method.request.path.id" = true
  } : {}
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.api_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.presign.invoke_arn
}

# API Gateway's own answers: the key's 403, throttling's 429, an
# integration failure's 5xx. They carry the CORS headers so a page on
# another origin can read them (one allowed origin: that origin; several:
# the request's Origin, since a gateway response cannot choose). A body
# over Lambda's 6 MB invocation payload gets the API's JSON 413 instead of
# {"message":"Request Too Long"}.
locals {
  api_cors_response_parameters = length(var.cors_allowed_origins) == 0 ? {} : {
    "gatewayresponse.header.Access-Control-Allow-Origin" = length(var.cors_allowed_origins) == 1 ? "'${var.cors_allowed_origins[0]}'" : "method.request.header.Origin"
    "gatewayresponse.header.Vary"                        = "'Origin'"
  }
  api_gateway_responses = {
    DEFAULT_4XX = { status = null, templates = {} }
    DEFAULT_5XX = { status = null, templates = {} }
    REQUEST_TOO_LARGE = {
      status = "413"
      templates = {
        "application/json" = jsonencode({ error = {
          code    = "too_large"
          message = "the request is larger than an API call takes (Lambda's 6 MB invocation payload, base64 included): POST /v1/images/upload takes bodies up to ${var.raw_upload_max_bytes} bytes; for larger files ask POST /v1/uploads for a presigned URL and PUT the file there"
        } })
      }
    }
  }
}

resource "aws_api_gateway_gateway_response" "this" {
  for_each = local.api_gateway_responses

  rest_api_id         = aws_api_gateway_rest_api.this.id
  response_type       = each.key
  status_code         = each.value.status
  response_parameters = local.api_cors_response_parameters
  response_templates  = each.value.templates
}

resource "aws_lambda_permission" "presign_from_api" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.presign.function_name
  principal     = "apigateway.amazonaws.com"
  # <api>/<stage>/<method>/v1/... : only this API's /v1 routes.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/*/v1/*"
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "imagepipe routes"

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_rest_api.this.binary_media_types,
      local.api_routes,
      [for m in aws_api_gateway_method.route : [m.id, m.api_key_required, m.request_parameters]],
      [for i in aws_api_gateway_integration.route : [i.id, i.uri]],
      [for r in aws_api_gateway_gateway_response.this : [r.id, r.status_code, r.response_parameters, r.response_templates]],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_integration.route, aws_api_gateway_gateway_response.this]
}

# --- stage with access logs

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn
  # Destroy clears the region's setting instead of leaving it pointing at
  # the role destroy deletes (deprecated in provider 5.x only because 6.0
  # always resets). moto answers the reset with a 500, which the provider
  # retries for ever: the emulator leaves the setting as it is.
  reset_on_delete = !var.emulator

  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
}

# API Gateway writes execution logs (logging_level below) to a group it
# names and would create itself, with no retention and outliving the
# stack; created here first, it has a retention and goes with the stack.
resource "aws_cloudwatch_log_group" "api_execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.api_stage_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_api_gateway_stage" "this" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.api_stage_name
  description   = "imagepipe API stage."

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTime"
      ip               = "$context.identity.sourceIp"
      apiKeyId         = "$context.identity.apiKeyId"
      httpMethod       = "$context.httpMethod"
      resourcePath     = "$context.resourcePath"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationError = "$context.integration.error"
      errorMessage     = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.api_execution]
}

resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  # Throttling is per key, in the usage plan below.
  settings {
    metrics_enabled = true
    logging_level   = "ERROR"
  }
}

# --- API key and usage plan

resource "aws_api_gateway_api_key" "this" {
  name        = "${var.name}-default"
  description = "imagepipe API key (x-api-key)."
  enabled     = true
}

resource "aws_api_gateway_usage_plan" "this" {
  name        = var.name
  description = "Throttling and quota for imagepipe API keys."

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.api_rate_limit
    burst_limit = var.api_burst_limit
  }

  quota_settings {
    limit  = var.api_quota_limit
    period = var.api_quota_period
  }
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
