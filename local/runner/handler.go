package runner

import (
	"context"
	"encoding/json"
)

// Handler is a function as Lambda invokes it: its event as JSON in, its
// response as JSON out. aws-lambda-go's lambda.Handler has the same method,
// so the handlers of the Lambda binaries fit; the in-process functions use
// NewHandler instead, so the CLI does not link aws-lambda-go's lambda
// package (and, through it, net/rpc, encoding/gob and html/template).
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// NewHandler makes fn a Handler, as lambda.NewHandler does for the handler
// a Lambda binary starts: the payload decoded into In by encoding/json, the
// response encoded by it.
func NewHandler[In, Out any](fn func(context.Context, In) (Out, error)) Handler {
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		var in In
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// NewHandlerNoResponse is NewHandler for a function that returns only an
// error; its response is null, as on Lambda.
func NewHandlerNoResponse[In any](fn func(context.Context, In) error) Handler {
	return NewHandler(func(ctx context.Context, in In) (any, error) {
		return nil, fn(ctx, in)
	})
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}
