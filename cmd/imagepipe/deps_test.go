package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoRPCInCLI keeps aws-lambda-go's lambda package (and the net/rpc,
// encoding/gob and html/template it links) out of the CLI: html/template's
// method calls by name keep every exported method in the binary, which
// made it 11 MB larger and every command slower to start. The in-process
// functions go through local/runner's Handler instead.
func TestNoRPCInCLI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "net/rpc", "html/template", "encoding/gob", "github.com/aws/aws-lambda-go/lambda":
			t.Errorf("the CLI links %s", pkg)
		}
	}
}
