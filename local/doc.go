// Package local is the embedded stack behind `imagepipe dev`: one process,
// loopback only, that plays AWS for the pipeline. Its edge port speaks S3
// (package s3server, SigV4 verified by package sigv4) and EventBridge
// (package events over package bus); durable queues (package queue) carry
// events to the same function handlers that run on AWS Lambda, called by
// package runner; the API port checks the API key as API Gateway does and
// serves the upload page. All state lives under one data directory, so the
// process can be killed at any moment and started again without losing an
// upload or an event.
//
// Only this package tree knows it is not AWS.
package local
