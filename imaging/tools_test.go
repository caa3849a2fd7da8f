package imaging

import (
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of an external program a test needs. Without
// CI the test is skipped, naming what is missing; under CI=true it fails.
func needTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err == nil && len(args) > 0 {
		if out, cerr := exec.Command(p, args...).CombinedOutput(); cerr != nil {
			err = &exec.Error{Name: path + " " + string(out), Err: cerr}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", path, err)
		}
		t.Skipf("%s not available (%v); install it to run this test", path, err)
	}
	return p
}

// needPillow returns /usr/bin/python3 when it can import PIL
// (apt-get install -y python3-pil).
func needPillow(t *testing.T) string {
	return needTool(t, "/usr/bin/python3", "-c", "import PIL.Image, PIL.ImageOps, PIL.features")
}

func jpegEncode(w io.Writer, m image.Image, q int) error {
	return jpeg.Encode(w, m, &jpeg.Options{Quality: q})
}
