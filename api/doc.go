// Package api is the imagepipe HTTP API's contract (DESIGN.md §3): the
// request and response bodies of POST /v1/uploads, GET /v1/images,
// GET /v1/images/{id} and POST /v1/images/upload, the error body, the
// image states and the limits a client must know. The presign function
// serves these types, the client sends and reads them, and the CLI and the
// tests use them; nothing here does I/O.
package api
