package lambdarie_test

import (
	"io"
	"net"
	"net/http"
)

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func copyBody(w io.Writer, resp *http.Response) (int64, error) { return io.Copy(w, resp.Body) }
