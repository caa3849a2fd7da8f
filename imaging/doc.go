// Package imaging turns one uploaded image into the pipeline's outputs: a
// grayscale image in the input's family (JPEG stays JPEG, everything else
// becomes PNG) and one or more thumbnails made from the same decode. It is
// the image half of the process function (see DESIGN.md §5) and of
// `imagepipe convert`; it is pure Go, knows nothing of AWS and never logs.
//
// The work is an ordered list of steps (pipeline), with the context checked
// before each one so that a Lambda timeout ends the work cleanly:
//
//	limits     format sniffed from the bytes (never the name or Content-Type),
//	           dimensions and EXIF orientation read from the header; byte and
//	           pixel limits refused before any pixel memory is allocated
//	decode     into the gray raster: JPEG by this package's coefficient
//	           reader (every process: baseline, progressive, arithmetic; any
//	           sampling factors; scans and work bounded from the headers, the
//	           context checked per scan and per row of MCUs), to colour only
//	           when the stored components are not the gray image or an RGB
//	           profile needs the RGB pixels; PNG, GIF, TIFF and BMP by this
//	           package's streaming decoders, row by row into the raster; WebP
//	           by golang.org/x/image/webp. An embedded ICC profile (icc.go)
//	           is converted to sRGB before luma; the context is checked per
//	           band of rows
//	gray       ITU-R BT.601 luma exactly as Pillow's "L" of the displayed
//	           RGB (lossy WebP: libwebp's RGB); a JPEG's gray image is its
//	           stored Y (or gray) component; alpha kept as gray+alpha (only
//	           when some pixel is not opaque), 16-bit kept 16-bit
//	orient     EXIF orientation 1-8 (JPEG APP1, PNG eXIf, WebP EXIF, TIFF IFD0)
//	thumbnail  box pre-shrink to three times the target, then Lanczos-3
//	encode     gray and thumbnails concurrently: this package's JPEG writer
//	           (baseline, optimal Huffman tables, restart interval per block
//	           row so rows encode on all cores) and PNG writer (gray and
//	           gray+alpha, 8/16-bit, bands deflated in parallel); no metadata
//	           is written
//
// A JPEG whose gray image is its stored Y takes the DCT path instead
// (jpegdct.go, chosen by jpegPath): its Y coefficients become the gray JPEG
// without an inverse or forward DCT (requantised only where the input's
// step is finer than the output quality's), the orientation is applied to
// the coefficients, and the thumbnails come from the DC coefficients. Each
// Output says which path made it (PathDCT, PathPixels).
//
// Luma is taken before orienting, which gives the same pixels as orienting
// first and moves one channel instead of three.
//
// Errors are *Error values whose Code is one of the sentinels' codes
// (not_an_image, unsupported_format, corrupt_image, too_many_pixels,
// too_large, too_complex); errors.Is matches them against the sentinels. A
// done context is returned as an error wrapping the context's own error,
// with no code.
package imaging
