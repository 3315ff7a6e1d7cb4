package main

import (
	"image"
	"image/color"
	"testing"
)

func TestParseSGR(t *testing.T) {
	in := "\x1b[1;7m cut\x1b[0m\x1b[39m\x1b[49m x\x1b[90m▁\x1b[38;5;208mA\x1b[38;2;1;2;3mB\x1b[38:5:9mC\x1b[39m\n" +
		"\x1b[32mOK\n" + // colour carries over the line end
		"\x1b]0;title\x07\x1b[2Jz\twide界!"
	g, dropped := Parse(in, 20, 3)
	if dropped != 0 {
		t.Errorf("dropped = %d", dropped)
	}
	c := func(x, y int) Cell { return g.Cells[y][x] }
	if a := c(1, 0).A; !a.Bold || !a.Reverse || c(1, 0).R != 'c' {
		t.Errorf("cell 1,0 = %+v", c(1, 0))
	}
	if a := c(4, 0).A; a.Bold || a.Reverse || a.FG.Kind != KindDefault {
		t.Errorf("after reset: %+v", a)
	}
	if got := c(6, 0); got.R != '▁' || got.A.FG != (Color{Kind: KindIndexed, Index: 8}) {
		t.Errorf("bright black block: %+v", got)
	}
	if got := c(7, 0).A.FG; got != (Color{Kind: KindIndexed, Index: 208}) {
		t.Errorf("256 colour: %+v", got)
	}
	if got := c(8, 0).A.FG; got != (Color{Kind: KindRGB, R: 1, G: 2, B: 3}) {
		t.Errorf("rgb: %+v", got)
	}
	if got := c(9, 0).A.FG; got != (Color{Kind: KindIndexed, Index: 9}) {
		t.Errorf("colon form: %+v", got)
	}
	if got := c(0, 1); got.R != 'O' || got.A.FG != (Color{Kind: KindIndexed, Index: 2}) {
		t.Errorf("line 2: %+v", got)
	}
	// OSC and CSI 2J draw nothing; tab goes to column 8; 界 takes two cells.
	if c(0, 2).R != 'z' || c(8, 2).R != 'w' || c(12, 2).R != '界' || !c(13, 2).Cont || c(14, 2).R != '!' {
		t.Errorf("line 3: %q", string([]rune{c(0, 2).R, c(8, 2).R, c(12, 2).R, c(14, 2).R}))
	}
	if _, d := Parse("0123456789ab\n", 10, 1); d != 2 {
		t.Errorf("overflow dropped = %d, want 2", d)
	}
}

func TestBlocksFillCells(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 16))
	fg, bg := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 0, 255}
	fill(img, img.Rect, bg)
	if !drawBlock(img, img.Rect, '▄', fg, bg) {
		t.Fatal("▄ not drawn as a block")
	}
	if img.RGBAAt(0, 7) != bg || img.RGBAAt(0, 8) != fg || img.RGBAAt(7, 15) != fg {
		t.Errorf("▄ does not fill the lower half exactly")
	}
	fill(img, img.Rect, bg)
	drawBox(img, img.Rect, '─', fg)
	for x := 0; x < 8; x++ {
		if img.RGBAAt(x, 7) != fg {
			t.Fatalf("─ has a gap at x=%d", x)
		}
	}
}
