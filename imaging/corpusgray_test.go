package imaging

import "context"

// corpusResult is the gray of a file as TestRealCorpus compares it: 8-bit
// luma after orientation (the high byte of 16-bit samples), and the
// profile that was applied.
type corpusResult struct {
	w, h    int
	l       []byte
	profile string
}

func corpusGray(data []byte) (corpusResult, error) {
	j := &job{ctx: context.Background(), data: data, opts: DefaultOptions()}
	if err := steps[:4].run(context.Background(), j); err != nil {
		return corpusResult{}, err
	}
	r, err := j.grayRaster()
	if err != nil {
		return corpusResult{}, err
	}
	l := make([]byte, 0, r.W*r.H)
	for y := 0; y < r.H; y++ {
		row := r.row(y)
		for x := 0; x < r.W; x++ {
			l = append(l, row[x*r.bpp()])
		}
	}
	return corpusResult{r.W, r.H, l, j.profile}, nil
}
