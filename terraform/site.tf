# The upload page on AWS (DESIGN.md §7): the files of web/static and a
# config.json in a private bucket, served by CloudFront through Origin
# Access Control, HTTPS only. A second behaviour sends /v1/* to the API
# Gateway stage, so the page and the API share one origin and the page needs
# no CORS; pages on other origins (cors_allowed_origins) use the API's CORS
# (api.tf).

locals {
  site_bucket = coalesce(var.site_bucket_name, "${var.name}-site-${local.account_id}-${local.region}")
  site_dir    = "${path.module}/../web/static"
  site_files  = fileset(local.site_dir, "**")

  # Content-Type of each page file, by extension.
  site_content_types = {
    css  = "text/css; charset=utf-8"
    html = "text/html; charset=utf-8"
    ico  = "image/x-icon"
    js   = "text/javascript; charset=utf-8"
    json = "application/json"
    png  = "image/png"
    svg  = "image/svg+xml"
    txt  = "text/plain; charset=utf-8"
  }

  # The page's origin, allowed by the buckets' CORS rules (s3.tf).
  site_origin = "https://${aws_cloudfront_distribution.site.domain_name}"

  # AWS managed CloudFront policies (their ids are the same in every account).
  cloudfront_caching_optimized        = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  cloudfront_caching_disabled         = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  cloudfront_all_viewer_except_host   = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  cloudfront_security_headers_managed = "67f7725c-6f97-4210-82d7-5512b31e9d03"
}

resource "aws_s3_bucket" "site" {
  bucket        = local.site_bucket
  force_destroy = var.force_destroy_buckets
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Only this distribution reads the bucket (OAC signs its requests), and
# nothing reaches it without TLS.
data "aws_iam_policy_document" "site" {
  statement {
    sid       = "CloudFrontReadsThePage"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site.arn]
    }
  }
  # moto_server treats a Deny with a Condition as "deny everything" (see
  # aws_s3_bucket_policy.tls_only): the emulator goes without this one.
  dynamic "statement" {
    for_each = var.emulator ? [] : ["tls-only"]
    content {
      sid     = "DenyInsecureTransport"
      effect  = "Deny"
      actions = ["s3:*"]
      resources = [
        aws_s3_bucket.site.arn,
        "${aws_s3_bucket.site.arn}/*",
      ]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site.json

  depends_on = [aws_s3_bucket_public_access_block.site]
}

# --- the page's files and its configuration

resource "aws_s3_object" "site" {
  for_each = local.site_files

  bucket        = aws_s3_bucket.site.id
  key           = each.value
  source        = "${local.site_dir}/${each.value}"
  source_hash   = filemd5("${local.site_dir}/${each.value}")
  content_type  = lookup(local.site_content_types, lower(reverse(split(".", each.value))[0]), "application/octet-stream")
  cache_control = "no-cache"
}

# Same origin: the page calls /v1 on its own address (the /v1/* behaviour).
resource "aws_s3_object" "site_config" {
  bucket = aws_s3_bucket.site.id
  key    = "config.json"
  content = jsonencode({
    api_base_url     = ""
    max_upload_bytes = var.max_upload_bytes
  })
  content_type  = "application/json"
  cache_control = "no-store"
}

# --- CloudFront

resource "aws_cloudfront_origin_access_control" "site" {
  # CloudFront is global to the account: the region keeps a second
  # region's stack from colliding.
  name                              = "${var.name}-site-${local.region}"
  description                       = "imagepipe: CloudFront reads the page bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  comment             = "${var.name}: upload page and /v1 API"
  default_root_object = "index.html"
  price_class         = var.site_price_class
  http_version        = "http2and3"
  is_ipv6_enabled     = true

  origin {
    origin_id                = "page"
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  origin {
    origin_id   = "api"
    domain_name = "${aws_api_gateway_rest_api.this.id}.execute-api.${local.region}.${data.aws_partition.current.dns_suffix}"
    origin_path = "/${aws_api_gateway_stage.this.stage_name}"

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  # The page. The files say Cache-Control: no-cache, so browsers and
  # CloudFront check for a new release instead of serving an old one.
  default_cache_behavior {
    target_origin_id           = "page"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cloudfront_caching_optimized
    response_headers_policy_id = local.cloudfront_security_headers_managed
  }

  # The API: nothing cached, every viewer header but Host forwarded (so
  # x-api-key arrives), every method (POST, and OPTIONS for preflights).
  ordered_cache_behavior {
    path_pattern             = "/v1/*"
    target_origin_id         = "api"
    viewer_protocol_policy   = "https-only"
    allowed_methods          = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods           = ["GET", "HEAD"]
    compress                 = true
    cache_policy_id          = local.cloudfront_caching_disabled
    origin_request_policy_id = local.cloudfront_all_viewer_except_host
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
