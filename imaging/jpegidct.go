package imaging

import (
	"math"
	"math/bits"
)

// Inverse transforms: the AAN floating-point 8x8 IDCT for full-size
// pixels, and box-averaged reductions for thumbnails, which give the mean
// of each 2x2, 4x4 or 8x8 cell of the block's pixels straight from its
// coefficients (for 8x8 just the DC).

// idctTable holds the dequantization factors with the AAN scale folded in
// (and the final division by 8).
type idctTable [64]float32

func (t *idctTable) init(q *[64]uint16) {
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			t[u*8+v] = float32(float64(q[u*8+v]) * aanScale[u] * aanScale[v] / 8)
		}
	}
}

// idct8x8 is the AAN floating-point inverse DCT of one block of quantized
// coefficients (natural order), writing 8x8 clamped samples at dst with
// the given stride.
func idct8x8(coef []int16, t *idctTable, dst []byte, stride int) {
	var ws [64]float32
	coef = coef[:64:64]
	// Columns.
	for c := 0; c < 8; c++ {
		if coef[8+c]|coef[16+c]|coef[24+c]|coef[32+c]|coef[40+c]|coef[48+c]|coef[56+c] == 0 {
			dcv := float32(coef[c]) * t[c]
			for r := 0; r < 8; r++ {
				ws[r*8+c] = dcv
			}
			continue
		}
		idct8(&ws, c, 8,
			float32(coef[c])*t[c], float32(coef[8+c])*t[8+c], float32(coef[16+c])*t[16+c], float32(coef[24+c])*t[24+c],
			float32(coef[32+c])*t[32+c], float32(coef[40+c])*t[40+c], float32(coef[48+c])*t[48+c], float32(coef[56+c])*t[56+c])
	}
	// Rows, in place, then out.
	for r := 0; r < 8; r++ {
		o := r * 8
		idct8(&ws, o, 1, ws[o], ws[o+1], ws[o+2], ws[o+3], ws[o+4], ws[o+5], ws[o+6], ws[o+7])
		d := dst[r*stride : r*stride+8 : r*stride+8]
		for i := range d {
			v := int32(ws[o+i] + 128.5)
			if uint32(v) > 255 {
				v = ^(v >> 31) & 255 // 0 below, 255 above
			}
			d[i] = uint8(v)
		}
	}
}

// idct8 is the 8-point AAN inverse DCT of dequantized, prescaled inputs,
// writing outputs at ws[o+k*s].
func idct8(ws *[64]float32, o, s int, i0, i1, i2, i3, i4, i5, i6, i7 float32) {
	// Even part.
	t10, t11 := i0+i4, i0-i4
	t13 := i2 + i6
	t12 := (i2-i6)*1.414213562 - t13
	t0, t3 := t10+t13, t10-t13
	t1, t2 := t11+t12, t11-t12
	// Odd part.
	z13, z10 := i5+i3, i5-i3
	z11, z12 := i1+i7, i1-i7
	t7 := z11 + z13
	t11 = (z11 - z13) * 1.414213562
	z5 := (z10 + z12) * 1.847759065
	t10 = 1.082392200*z12 - z5
	t12 = -2.613125930*z10 + z5
	t6 := t12 - t7
	t5 := t11 - t6
	t4 := t10 + t5
	ws[o] = t0 + t7
	ws[o+7*s] = t0 - t7
	ws[o+s] = t1 + t6
	ws[o+6*s] = t1 - t6
	ws[o+2*s] = t2 + t5
	ws[o+5*s] = t2 - t5
	ws[o+4*s] = t3 + t4
	ws[o+3*s] = t3 - t4
}

// reduceTable maps each coefficient of a block to its contribution to the
// n x n cell means (n = 1, 2 or 4), dequantisation folded in:
// w[nat][j*n+i] = q[nat] * A[v][j] * A[u][i], where A[u][i] is the mean of
// the 1-D basis function u over cell i.
//
// For n = 2 each coefficient's four weights are one weight with signs:
// A[u][1] = (-1)^u A[u][0] (the basis is symmetric or antisymmetric about
// the block's middle), and A[u][i] = 0 for even u > 0. So reduce adds each
// coefficient times w1[nat] into one of four sums by its class (bit 0: u
// odd, bit 1: v odd) and makes the four cells from them at the end: one
// multiply-add a coefficient instead of four.
type reduceTable struct {
	n     int
	w     [64][16]float32
	used  uint64 // zig-zag positions whose weights are not all zero
	w1    [64]float32
	class [64]uint8
}

func (t *reduceTable) init(q *[64]uint16, n int) {
	t.n = n
	g := 8 / n
	var a [8][4]float64
	for u := 0; u < 8; u++ {
		cu := 0.5
		if u == 0 {
			cu = 0.5 / math.Sqrt2
		}
		for i := 0; i < n; i++ {
			s := 0.0
			for x := g * i; x < g*(i+1); x++ {
				s += cu * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
			}
			a[u][i] = s / float64(g)
		}
	}
	// The even frequencies above 0 average out over a cell of 4 (the
	// 2x2 cells of 1/4 scale see 25 of the 64 coefficients).
	zero := func(u int) bool {
		for i := 0; i < n; i++ {
			if math.Abs(a[u][i]) > 1e-9 {
				return false
			}
		}
		return true
	}
	t.used = 0
	for nat := 0; nat < 64; nat++ {
		v, u := nat/8, nat%8
		for j := 0; j < n; j++ {
			for i := 0; i < n; i++ {
				t.w[nat][j*n+i] = float32(float64(q[nat]) * a[v][j] * a[u][i])
			}
		}
		if !zero(u) && !zero(v) {
			t.used |= 1 << unzigzag[nat]
		}
		t.w1[nat] = float32(float64(q[nat]) * a[v][0] * a[u][0])
		t.class[nat] = uint8(u&1 | (v&1)<<1)
	}
}

// reduce computes the n x n cell means of a block (natural order, nonzero
// AC positions in nz by zig-zag index) into acc, n values a row.
func (t *reduceTable) reduce(blk *[64]int16, nz uint64, acc *[16]float32) {
	n := t.n
	if n == 2 {
		var s [4]float32 // by class
		s[0] = float32(blk[0])*t.w1[0] + 128
		for m := nz & t.used &^ 1; m != 0; m &= m - 1 {
			nat := zigzag[bitsTrailing(m)&63] & 63
			s[t.class[nat]&3] += float32(blk[nat]) * t.w1[nat]
		}
		acc[0] = s[0] + s[1] + s[2] + s[3]
		acc[1] = s[0] - s[1] + s[2] - s[3]
		acc[2] = s[0] + s[1] - s[2] - s[3]
		acc[3] = s[0] - s[1] - s[2] + s[3]
		return
	}
	dc := float32(blk[0])*t.w[0][0] + 128
	for i := range acc[:n*n] {
		acc[i] = dc
	}
	for m := nz & t.used &^ 1; m != 0; m &= m - 1 {
		nat := zigzag[bitsTrailing(m)&63]
		c := float32(blk[nat])
		w := &t.w[nat]
		for i := range acc[:n*n] {
			acc[i] += c * w[i]
		}
	}
}

func bitsTrailing(m uint64) int { return bits.TrailingZeros64(m) }
