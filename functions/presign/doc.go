// Package presign is imagepipe's HTTP API: POST /v1/uploads answers a
// presigned S3 PUT URL for a new image, GET /v1/images/{id} answers its
// status with presigned GET URLs of the outputs, and POST /v1/images/upload
// takes a small raw image body (the original seed's curl flow).
//
// The same Handler serves net/http (the local stack) and API Gateway proxy
// events (AWS Lambda). The x-api-key check is API Gateway's job on AWS and
// the local stack's locally; this package never sees a bad key.
// See https://docs.aws.amazon.com/AmazonS3/latest/userguide/PresignedUrlUploadObject.html.
package presign
