// Package lambdarie runs imagepipe's deployable Lambda artifacts, the
// `bootstrap` executables of `make lambda` built for this machine, under
// AWS's Lambda Runtime Interface Emulator (aws-lambda-rie,
// https://github.com/aws/aws-lambda-runtime-interface-emulator), and plays
// the AWS services that invoke them:
//
//   - Function: a pool of execution environments, one aws-lambda-rie process
//     each (the emulator serves one invocation at a time), started on
//     demand (a cold start), with the environment Lambda gives a function:
//     the function's own variables, Lambda's reserved ones, credentials and
//     an AWS_ENDPOINT_URL. It reads the emulator's init and invocation
//     reports and the process's CPU time.
//   - SQSEventSource: an SQS event source mapping (batch size, batching
//     window, ReportBatchItemFailures) over any SQS API
//     (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
//   - AsyncEventSource: Lambda's asynchronous invocation of an EventBridge
//     rule target, fed from a queue the rule delivers to: retries with
//     backoff, maximum event age, the on-failure destination's invocation
//     record (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
//   - RESTAPI: an API Gateway REST API with Lambda proxy integrations,
//     turning HTTP requests into proxy events with the stage and resource
//     path API Gateway sends
//     (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
//
// The moto test of terraform/ drives the three against moto_server with the
// settings of the Terraform outputs; `imagepipe dev --lambda-binaries DIR`
// uses Function and RESTAPI in place of the in-process handlers. Linux only,
// like the emulator.
package lambdarie
