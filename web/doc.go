// Package web holds imagepipe's upload page: static HTML, CSS and plain
// JavaScript modules (no build step, nothing fetched from a CDN), embedded
// with go:embed so that `imagepipe dev` serves the page at "/" beside the
// /v1 API. The same files deploy unchanged as static files on AWS; the page
// reads config.json beside itself for the API base URL (and optionally a
// key), or the user types both into the page.
//
// The page drives the HTTP API described in DESIGN.md §3: POST /v1/uploads,
// a PUT of the bytes straight to the presigned S3 URL (see
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/PresignedUrlUploadObject.html
// and, for the browser's cross-origin PUT, the bucket's CORS rules:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html), then
// GET /v1/images/{id} until the image is done or has failed.
package web
