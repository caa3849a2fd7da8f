package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strconv"
	"sync"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Output is one encoded image made from the input.
type Output struct {
	Name        string // "gray", "thumb" (first thumbnail size), "thumb_<n>" for further sizes
	Ext         string // "jpg" or "png"
	ContentType string // "image/jpeg" or "image/png"
	Width       int
	Height      int
	Data        []byte
}

// Result is what Process made: the input's Info and the outputs, gray
// first, then the thumbnails in the order of Options.ThumbSizes.
type Result struct {
	Info    Info
	Outputs []Output
}

// job is the state that the steps pass along.
type job struct {
	data   []byte
	opts   Options
	info   Info
	img    image.Image // decoded, as stored
	gray   *raster     // luma (+ alpha), upright after the orient step
	thumbs []*raster
	out    []Output
}

// step is one stage of the work.
type step struct {
	name string
	run  func(*job) error
}

// pipeline is the ordered list of steps. The context is checked before
// each step.
type pipeline []step

// steps is the pipeline of Process. Luma is taken before orienting, which
// gives the same pixels as orienting first and moves one channel instead
// of three.
var steps = pipeline{
	{"limits", stepLimits},
	{"decode", stepDecode},
	{"gray", stepGray},
	{"orient", stepOrient},
	{"thumbnail", stepThumbnail},
	{"encode", stepEncode},
}

func (p pipeline) run(ctx context.Context, j *job) error {
	for _, s := range p {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("imaging: before %s: %w", s.name, err)
		}
		if err := s.run(j); err != nil {
			return err
		}
	}
	return nil
}

// Process turns data into its gray image and thumbnails. Zero fields of
// opts take the defaults. Refused inputs give an *Error; a done ctx gives
// an error wrapping ctx.Err().
func Process(ctx context.Context, data []byte, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	j := &job{data: data, opts: opts.withDefaults()}
	if err := steps.run(ctx, j); err != nil {
		return nil, err
	}
	return &Result{Info: j.info, Outputs: j.out}, nil
}

// stepLimits reads the header and refuses inputs over the limits before
// any pixel memory is allocated.
func stepLimits(j *job) error {
	if int64(len(j.data)) > j.opts.MaxBytes {
		return newError(ErrTooLarge, fmt.Errorf("%d bytes, limit %d", len(j.data), j.opts.MaxBytes))
	}
	info, err := Probe(j.data)
	if err != nil {
		return err
	}
	j.info = info
	if px := int64(info.Width) * int64(info.Height); px > j.opts.MaxPixels {
		return newError(ErrTooManyPixels, fmt.Errorf("%s header says %dx%d = %d pixels, limit %d",
			info.Format, info.Width, info.Height, px, j.opts.MaxPixels))
	}
	return nil
}

// stepDecode decodes the pixels. JPEG and PNG go through this package's
// luma decoders; what they leave (errFallback) or refuse goes through the
// standard decoders, whose verdict is final, so an input the fast path
// misjudges is never lost.
func stepDecode(j *job) error {
	var fast func([]byte) (*raster, error)
	switch j.info.Format {
	case "jpeg":
		fast = decodeJPEGLuma // only the Y plane, which is the gray image
	case "png":
		fast = decodePNGLuma // luma computed row by row as rows are inflated
	}
	if fast != nil {
		if r, err := fast(j.data); err == nil && r.W == j.info.Width && r.H == j.info.Height {
			j.gray = r
			return nil
		}
	}
	img, err := decode(j.info.Format, j.data)
	if err != nil {
		return decodeError(j.info.Format, err)
	}
	b := img.Bounds()
	if b.Dx() != j.info.Width || b.Dy() != j.info.Height || b.Min != (image.Point{}) {
		if j.info.Format != "gif" {
			return newError(ErrCorrupt, fmt.Errorf("%s: decoded %v, header said %dx%d", j.info.Format, b, j.info.Width, j.info.Height))
		}
		// A GIF's first frame may cover part of the logical screen: the
		// rest is transparent.
		c := image.NewNRGBA(image.Rect(0, 0, j.info.Width, j.info.Height))
		draw.Draw(c, b, img, b.Min, draw.Src)
		img = c
	}
	j.img = img
	return nil
}

func decode(format string, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r)
	case "webp":
		return webp.Decode(r)
	case "tiff":
		return tiff.Decode(r)
	case "bmp":
		return bmp.Decode(r)
	}
	return nil, newError(ErrUnsupportedFormat, fmt.Errorf("no decoder for %q", format))
}

func stepGray(j *job) error {
	if j.gray != nil {
		return nil // the decoder made it
	}
	j.gray = toGray(j.img)
	if j.info.Format == "webp" {
		switch j.img.(type) {
		case *image.YCbCr, *image.NYCbCrA:
			// VP8's Y is limited range (16-235); expand it to full-range
			// luma as libwebp's RGB conversion does.
			j.gray = expandLimitedRange(j.gray)
		}
	}
	j.img = nil // let the color planes go
	return nil
}

func stepOrient(j *job) error {
	j.gray = orient(j.gray, j.info.Orientation)
	return nil
}

func stepThumbnail(j *job) error {
	j.thumbs = make([]*raster, len(j.opts.ThumbSizes))
	for i, s := range j.opts.ThumbSizes {
		j.thumbs[i] = thumbnail(j.gray, s)
	}
	return nil
}

// stepEncode encodes the gray image and the thumbnails concurrently.
func stepEncode(j *job) error {
	ext, ct := "png", "image/png"
	if j.info.Format == "jpeg" {
		ext, ct = "jpg", "image/jpeg"
	}
	rs := append([]*raster{j.gray}, j.thumbs...)
	j.out = make([]Output, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		name := "gray"
		if i == 1 {
			name = "thumb"
		} else if i > 1 {
			name = "thumb_" + strconv.Itoa(j.opts.ThumbSizes[i-1])
		}
		wg.Go(func() {
			var data []byte
			var err error
			if ext == "jpg" {
				data, err = encodeJPEG(r, j.opts.JPEGQuality)
			} else {
				data, err = encodePNG(r)
			}
			j.out[i] = Output{Name: name, Ext: ext, ContentType: ct, Width: r.W, Height: r.H, Data: data}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("imaging: encode %s: %w", j.out[i].Name, err)
		}
	}
	return nil
}

func encodeJPEG(r *raster, quality int) ([]byte, error) {
	if r.Alpha || r.Deep {
		return nil, fmt.Errorf("imaging: JPEG output needs 8-bit gray, have alpha=%v deep=%v", r.Alpha, r.Deep)
	}
	return encodeGrayJPEG(r, quality), nil
}
