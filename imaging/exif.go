package imaging

import "encoding/binary"

// EXIF orientation, read from the container of each format without any
// dependency: JPEG APP1 "Exif", PNG eXIf, WebP EXIF chunk, TIFF IFD0. Every
// read is bounds-checked; anything malformed means orientation 1.

const tagOrientation = 0x0112

// tiffOrientation returns the Orientation tag of IFD0 of a TIFF structure
// (a TIFF file or an EXIF payload), or 1.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int64(bo.Uint32(b[4:8]))
	if ifd < 8 || ifd+2 > int64(len(b)) {
		return 1
	}
	n := int64(bo.Uint16(b[ifd:]))
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 1
		}
		if bo.Uint16(b[e:]) != tagOrientation {
			continue
		}
		typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if count < 1 {
			return 1
		}
		var v int
		switch typ {
		case 3: // SHORT
			v = int(bo.Uint16(b[e+8:]))
		case 4, 9: // LONG, SLONG (some writers use it)
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// exifPayloadOrientation accepts an EXIF payload with or without the
// "Exif\0\0" prefix.
func exifPayloadOrientation(b []byte) int {
	if hasPrefix(b, "Exif\x00\x00") {
		b = b[6:]
	}
	return tiffOrientation(b)
}

// jpegOrientation walks the marker segments before the first scan.
func jpegOrientation(b []byte) int {
	p := 2 // after SOI
	for p+4 <= len(b) {
		if b[p] != 0xff {
			return 1
		}
		m := b[p+1]
		if m == 0xff { // fill byte
			p++
			continue
		}
		if m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 { // no length
			p += 2
			continue
		}
		if m == 0xda || m == 0xd9 { // start of scan, end of image
			return 1
		}
		n := be16(b[p+2:])
		if n < 2 || p+2+n > len(b) {
			return 1
		}
		seg := b[p+4 : p+2+n]
		if m == 0xe1 && hasPrefix(seg, "Exif\x00\x00") {
			return tiffOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 1
}

// pngOrientation reads an eXIf chunk before the first IDAT.
func pngOrientation(b []byte) int {
	p := 8
	for p+8 <= len(b) {
		n := int64(be32(b[p:]))
		typ := string(b[p+4 : p+8])
		end := int64(p) + 8 + n
		if n < 0 || end > int64(len(b)) {
			return 1
		}
		switch typ {
		case "eXIf":
			return exifPayloadOrientation(b[p+8 : end])
		case "IDAT", "IEND":
			return 1
		}
		p = int(end) + 4 // CRC
	}
	return 1
}

// webpOrientation reads the EXIF chunk of an extended (VP8X) WebP.
func webpOrientation(b []byte) int {
	if c := webpChunk(b, "EXIF"); c != nil {
		return exifPayloadOrientation(c)
	}
	return 1
}

// webpChunk returns the payload of the first RIFF chunk of a type in a
// WebP file, or nil.
func webpChunk(b []byte, typ string) []byte {
	p := 12
	for p+8 <= len(b) {
		n := int64(binary.LittleEndian.Uint32(b[p+4:]))
		end := int64(p) + 8 + n
		if end > int64(len(b)) {
			return nil
		}
		if string(b[p:p+4]) == typ {
			return b[p+8 : end]
		}
		p = int(end + end&1) // chunks are padded to even sizes
	}
	return nil
}
