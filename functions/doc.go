// Package functions holds nothing itself: its subpackages are the three
// imagepipe functions (presign, process, notify) and the status record they
// share. Function code never knows whether it runs on AWS Lambda or inside
// the local stack: it gets AWS SDK clients and an eventbus.Publisher.
package functions
