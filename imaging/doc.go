// Package imaging turns one uploaded image into the pipeline's outputs: a
// grayscale image in the input's family (JPEG stays JPEG, everything else
// becomes PNG) and one or more thumbnails made from the same decode.
//
// The work is an ordered list of steps (see Pipeline): limits (format
// sniffed from the bytes, dimensions and EXIF orientation read from the
// header, byte and pixel limits checked before any pixel is allocated),
// decode, gray (ITU-R BT.601 luma, Pillow's "L"; a JPEG's or lossy WebP's
// decoded Y plane is used as is), orient (EXIF orientation 1-8), thumbnail
// (box pre-shrink, then a Lanczos-3 kernel) and encode. The context is
// checked between steps so that a Lambda timeout ends the work cleanly.
//
// Inputs: JPEG (baseline, progressive, grayscale, CMYK/YCCK), PNG (8 and 16
// bit, palette, gray, alpha), GIF (first frame), WebP (lossy and lossless),
// TIFF and BMP. Outputs carry no metadata. Errors are *Error values whose
// Code is one of the sentinels' codes (not_an_image, unsupported_format,
// corrupt_image, too_many_pixels, too_large); a cancelled context is
// returned as the context's own error.
//
// The package is pure Go and never logs or prints.
package imaging
