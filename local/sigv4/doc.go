// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests, so
// the local stack can refuse what AWS would refuse. It does not implement the
// signing algorithm itself: it rebuilds the request the client says it signed
// and signs it again with the AWS SDK's own signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4), then compares the two
// signatures in constant time.
//
// Both forms are accepted: the Authorization header (AWS SDKs, the aws CLI) and
// presigned query strings (X-Amz-Signature). aws-chunked request bodies
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD and
// its -TRAILER variant) are decoded into a plain body, with every chunk
// signature checked. The package knows nothing about S3 or EventBridge beyond
// the signing rules, so the S3 server and the EventBridge endpoint share it.
//
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
package sigv4
