// Package client is a small Go client of the imagepipe HTTP API (DESIGN.md
// §3): ask POST /v1/uploads for a presigned URL, PUT the bytes to S3, poll
// GET /v1/images/{id} until the image is done or failed, and download the
// outputs from their presigned URLs. It also speaks the seed's raw
// POST /v1/images/upload. The same client works against API Gateway on AWS
// (the Terraform outputs) and against `imagepipe dev`.
//
// Errors answered by the API or by S3 are returned as *APIError, with the
// API's error code ("too_large", "not_found", ...), "forbidden" for a
// missing or wrong API key, or S3's own code for a refused PUT.
package client
