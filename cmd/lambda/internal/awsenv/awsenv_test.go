package awsenv

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)

	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1536")
	limit, ok := SetMemoryLimit()
	if want := int64(1536 << 20 * 9 / 10); !ok || limit != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("1536 MB function: limit %d (set %v), runtime %d; want %d", limit, ok, debug.SetMemoryLimit(-1), want)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1000MiB")
	if _, ok := SetMemoryLimit(); ok || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatal("GOMEMLIMIT set in the environment was overridden")
	}
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
	if _, ok := SetMemoryLimit(); ok {
		t.Fatal("a limit was set outside Lambda")
	}
}
