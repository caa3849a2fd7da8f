package process

import (
	"math"
	"runtime/debug"

	"github.com/imagepipe/imagepipe/imaging"
)

// bytesPerPixel is the most memory the image steps hold at once per pixel
// of an input of each format, rounded up with a margin from the peak RSS
// measured on the costliest kind of input of the format (16-bit RGBA with
// alpha for PNG and TIFF; imaging decodes them row by row into the gray
// raster): PNG 4.6, TIFF 4.5, JPEG 1.9, GIF 1.4, BMP 1.3 bytes per pixel.
// WebP decodes whole into YCbCr (and alpha) first. The sources themselves
// are counted apart (see DeriveMemoryBudget).
var bytesPerPixel = map[string]int64{
	"jpeg": 3,
	"png":  6,
	"tiff": 6,
	"webp": 6,
	"gif":  3,
	"bmp":  3,
}

// memoryNeed is what processing an image is expected to take at most.
func memoryNeed(info imaging.Info) int64 {
	bpp, ok := bytesPerPixel[info.Format]
	if !ok {
		bpp = 8
	}
	return max(info.Pixels(), 1) * bpp
}

// Reserves of DeriveMemoryBudget.
const (
	// runtimeReserve is the memory that is not image work: the Go runtime,
	// the SDK clients, the event and the answers.
	runtimeReserve = 64 << 20
	// minMemoryBudget keeps a tiny function able to work on small images.
	minMemoryBudget = 32 << 20
)

// DeriveMemoryBudget is the memory budget of image work in a function whose
// Go memory limit is limit bytes: the limit, less the runtime reserve and
// the sources that concurrency workers may hold in memory at once.
func DeriveMemoryBudget(limit int64, concurrency int, maxInputBytes int64) int64 {
	return max(limit-runtimeReserve-int64(concurrency)*maxInputBytes, minMemoryBudget)
}

// memoryLimit is the Go runtime's memory limit (GOMEMLIMIT, which the Lambda
// entry points set to 90 % of the function's memory), or 0 when there is
// none.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	return 0
}
