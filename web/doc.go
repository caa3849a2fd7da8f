// Package web holds imagepipe's upload page: static HTML, CSS and plain
// JavaScript modules (no build step, nothing fetched from a CDN), embedded
// with go:embed so that `imagepipe dev` serves the page at "/" beside the
// /v1 API. The same files deploy unchanged on AWS: Terraform copies
// web/static to a private bucket served by CloudFront, whose /v1/*
// behaviour forwards to the API, and writes the config.json beside them.
//
// config.json (Config) says where the API is ("" for the page's own origin),
// the largest upload the API takes, and, only from `imagepipe dev` to a page
// opened on a loopback address, the key. A page on another origin than the
// API needs that origin allowed by the API and the buckets (CORS).
//
// The page drives the HTTP API described in DESIGN.md §3: it checks a key
// with GET /v1/images/00000000000000000000000000000000 (404 means the key
// works), asks POST /v1/uploads for a presigned URL, PUTs the bytes straight
// to it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/PresignedUrlUploadObject.html;
// the bucket's CORS rules let the browser do it:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html), then
// follows GET /v1/images/{id} until the image is done, failed or expired.
// Downloads fetch the presigned GET URL (an attachment named after the
// upload) and save it without leaving the page. The ids of recent images
// are kept in localStorage, so a reload shows them again.
package web
