# Two private buckets: uploads (clients PUT to presigned URLs, objects expire
# after 7 days) and processed (outputs and status records).

locals {
  buckets = {
    uploads   = aws_s3_bucket.uploads
    processed = aws_s3_bucket.processed
  }
}

resource "aws_s3_bucket" "uploads" {
  bucket        = local.uploads_bucket
  force_destroy = var.force_destroy_buckets
  # With imagepipe:stack (default_tags), how `imagepipe replay --aws`
  # finds the bucket.
  tags = { "imagepipe:bucket" = "uploads" }
}

resource "aws_s3_bucket" "processed" {
  bucket        = local.processed_bucket
  force_destroy = var.force_destroy_buckets
  # With imagepipe:stack (default_tags), how `imagepipe replay --aws`
  # finds the bucket.
  tags = { "imagepipe:bucket" = "processed" }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "bucket_tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
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

resource "aws_s3_bucket_policy" "tls_only" {
  # moto_server cannot evaluate policy conditions: it treats any statement
  # with a Condition as "deny everything", so the emulator goes without.
  for_each = var.emulator ? {} : local.buckets

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket_tls_only[each.key].json

  # A bucket policy is refused while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    id     = "expire-uploads"
    status = "Enabled"
    filter {
      prefix = "uploads/"
    }
    expiration {
      days = 7
    }
  }

  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# What `imagepipe replay` reads to tell how each replayed image ended
# (processed/replays/<replay>/<image id>/<outcome>, written by the worker):
# needed only while the command watches, kept a week.
resource "aws_s3_bucket_lifecycle_configuration" "processed" {
  bucket = aws_s3_bucket.processed.id

  rule {
    id     = "expire-replay-records"
    status = "Enabled"
    filter {
      prefix = "processed/replays/"
    }
    expiration {
      days = 7
    }
  }
}

# The page PUTs to presigned URLs from its CloudFront origin (site.tf) and
# from var.cors_allowed_origins.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = distinct(concat([local.site_origin], var.cors_allowed_origins))
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

# The page reads the outputs through presigned GET URLs: CORS lets it fetch
# a download (it saves the file without leaving the page) and read pixels.
resource "aws_s3_bucket_cors_configuration" "processed" {
  bucket = aws_s3_bucket.processed.id

  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = distinct(concat([local.site_origin], var.cors_allowed_origins))
    allowed_headers = ["*"]
    max_age_seconds = 3000
  }
}

# S3 -> default EventBridge bus for every object event of the uploads bucket.
resource "aws_s3_bucket_notification" "uploads" {
  bucket      = aws_s3_bucket.uploads.id
  eventbridge = true
}
