package wuitest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"sync"
)

// terminalThumb draws a 320x180 still of a terminal: dark background and
// rows of coloured "text" blocks, different for every seed.
func terminalThumb(rng *rand.Rand) []byte {
	const w, h = 320, 180
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{0x12, 0x13, 0x14, 0xff}
	fill(img, 0, 0, w, h, bg)
	fill(img, 0, 0, w, 14, color.RGBA{0x2a, 0x2e, 0x36, 0xff})
	for i, c := range []color.RGBA{{0xff, 0x5f, 0x57, 0xff}, {0xfe, 0xbc, 0x2e, 0xff}, {0x28, 0xc8, 0x40, 0xff}} {
		fill(img, 8+i*12, 4, 7, 6, c)
	}
	palette := []color.RGBA{{0x4a, 0xde, 0x80, 0xff}, {0x60, 0xa5, 0xfa, 0xff}, {0xd1, 0xd5, 0xdb, 0xff}, {0x9c, 0xa3, 0xaf, 0xff}, {0xfb, 0xbf, 0x24, 0xff}}
	for y := 22; y < h-8; y += 10 {
		x := 8
		if rng.IntN(3) == 0 { // a prompt line
			fill(img, x, y, 46, 5, palette[0])
			fill(img, x+48, y, 18, 5, palette[1])
			x += 72
		}
		words := 1 + rng.IntN(7)
		for k := 0; k < words && x < w-20; k++ {
			ln := 8 + rng.IntN(36)
			fill(img, x, y, min(ln, w-8-x), 5, palette[2+rng.IntN(3)])
			x += ln + 5
		}
	}
	var b bytes.Buffer
	(&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img)
	return b.Bytes()
}

func fill(img *image.RGBA, x0, y0, w, h int, c color.RGBA) {
	px := []byte{c.R, c.G, c.B, c.A}
	for y := y0; y < y0+h; y++ {
		row := img.Pix[img.PixOffset(x0, y):img.PixOffset(x0+w, y)]
		for i := 0; i < len(row); i += 4 {
			copy(row[i:i+4], px)
		}
	}
}

// terminalThumbs are a few stills drawn once and shared by every fake:
// drawing one per clip made the seeding slow under the race detector.
var terminalThumbs = sync.OnceValue(func() [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([][]byte, 6)
	for i := range out {
		out[i] = terminalThumb(rng)
	}
	return out
})
