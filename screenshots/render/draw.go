package main

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"sort"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Theme is the terminal's palette: default colours and the 16 ANSI colours
// (the rest of the 256 are the standard xterm cube and grey ramp).
type Theme struct {
	FG, BG color.RGBA
	ANSI   [16]color.RGBA
}

func rgb(v uint32) color.RGBA {
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

// DarkTheme is a dark palette with enough contrast for every ANSI colour
// against the background, including bright black (colour 8, "dim" text).
var DarkTheme = Theme{
	FG: rgb(0xd4d7dc), BG: rgb(0x16181d),
	ANSI: [16]color.RGBA{
		rgb(0x2a2e36), rgb(0xe8646c), rgb(0x93c874), rgb(0xe6c27a),
		rgb(0x63a4f0), rgb(0xc884de), rgb(0x5cc0cc), rgb(0xc9cdd4),
		rgb(0x80868f), rgb(0xff8088), rgb(0xb0e28e), rgb(0xf6d895),
		rgb(0x8cc0ff), rgb(0xdfa6f0), rgb(0x86dce6), rgb(0xf4f5f7),
	},
}

// Resolve maps a cell colour to RGB; def is the default to use.
func (t Theme) Resolve(c Color, def color.RGBA) color.RGBA {
	switch c.Kind {
	case KindRGB:
		return color.RGBA{c.R, c.G, c.B, 0xff}
	case KindIndexed:
		i := int(c.Index)
		if i < 16 {
			return t.ANSI[i]
		}
		if i < 232 {
			i -= 16
			lv := func(n int) uint8 {
				if n == 0 {
					return 0
				}
				return uint8(55 + 40*n)
			}
			return color.RGBA{lv(i / 36), lv(i / 6 % 6), lv(i % 6), 0xff}
		}
		v := uint8(8 + 10*(i-232))
		return color.RGBA{v, v, v, 0xff}
	}
	return def
}

// colors gives a cell's foreground and background after bold, faint and
// reverse video.
func (t Theme) colors(a Attr) (fg, bg color.RGBA) {
	fg = t.Resolve(a.FG, t.FG)
	bg = t.Resolve(a.BG, t.BG)
	if a.Reverse {
		fg, bg = bg, fg
	}
	if a.Faint {
		fg = mix(fg, bg, 0.5)
	}
	return fg, bg
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-t) + float64(y)*t)) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 0xff}
}

// Fonts is a monospace face (regular and bold) with fallbacks for runes the
// monospace font lacks.
type Fonts struct {
	faces    []face // regular first, then fallbacks
	bold     []face
	CellW    int
	CellH    int
	Ascent   int
	Missing  map[rune]int // runes no face has, with their counts
	quantize int          // coverage levels (0: exact)
}

type face struct {
	f    *sfnt.Font
	face font.Face
	buf  sfnt.Buffer
}

func (f *face) has(r rune) bool {
	i, err := f.f.GlyphIndex(&f.buf, r)
	return err == nil && i != 0
}

func loadFace(path string, size float64) (face, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return face{}, err
	}
	f, err := opentype.Parse(data)
	if err != nil {
		return face{}, fmt.Errorf("%s: %w", path, err)
	}
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return face{}, fmt.Errorf("%s: %w", path, err)
	}
	return face{f: f, face: fc}, nil
}

// LoadFonts opens the regular and bold monospace fonts and the fallbacks.
// The cell is the regular font's advance wide and lineHeight × its height
// tall.
func LoadFonts(regular, bold string, fallbacks []string, size, lineHeight float64) (*Fonts, error) {
	fs := &Fonts{Missing: map[rune]int{}, quantize: 16}
	r, err := loadFace(regular, size)
	if err != nil {
		return nil, err
	}
	fs.faces = append(fs.faces, r)
	if bold != "" {
		b, err := loadFace(bold, size)
		if err != nil {
			return nil, err
		}
		fs.bold = append(fs.bold, b)
	}
	for _, p := range fallbacks {
		f, err := loadFace(p, size)
		if err != nil {
			return nil, err
		}
		fs.faces = append(fs.faces, f)
		fs.bold = append(fs.bold, f)
	}
	adv, ok := r.face.GlyphAdvance('0')
	if !ok {
		return nil, fmt.Errorf("%s: no glyph for 0", regular)
	}
	m := r.face.Metrics()
	fs.CellW = adv.Round()
	h := float64(m.Ascent+m.Descent) / 64
	fs.CellH = int(math.Round(h * lineHeight))
	fs.Ascent = m.Ascent.Round() + (fs.CellH-int(math.Round(h)))/2
	return fs, nil
}

// pick returns the first face with a glyph for r (bold if asked and the
// bold font has it).
func (fs *Fonts) pick(r rune, bold bool) *face {
	if bold {
		for i := range fs.bold {
			if fs.bold[i].has(r) {
				return &fs.bold[i]
			}
		}
	}
	for i := range fs.faces {
		if fs.faces[i].has(r) {
			return &fs.faces[i]
		}
	}
	return nil
}

// Render paints the grid: margin pixels of background around it.
func Render(g *Grid, fs *Fonts, t Theme, margin int) *image.RGBA {
	W, H := g.Cols*fs.CellW+2*margin, g.Rows*fs.CellH+2*margin
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Rect, t.BG)
	for y, row := range g.Cells {
		for x, c := range row {
			if c.Cont {
				continue
			}
			w := 1
			if x+1 < g.Cols && row[x+1].Cont {
				w = 2
			}
			cell := image.Rect(margin+x*fs.CellW, margin+y*fs.CellH, margin+(x+w)*fs.CellW, margin+(y+1)*fs.CellH)
			fg, bg := t.colors(c.A)
			if bg != t.BG {
				fill(img, cell, bg)
			}
			if c.A.Invisible || c.R == ' ' {
				if c.A.Underline {
					fill(img, underline(cell, fs), fg)
				}
				continue
			}
			if !drawBlock(img, cell, c.R, fg, bg) && !drawBox(img, cell, c.R, fg) {
				fs.drawGlyph(img, cell, c.R, c.A.Bold, fg)
			}
			if c.A.Underline {
				fill(img, underline(cell, fs), fg)
			}
			if c.A.Strike {
				mid := cell.Min.Y + fs.CellH/2
				fill(img, image.Rect(cell.Min.X, mid, cell.Max.X, mid+1), fg)
			}
		}
	}
	return img
}

func underline(cell image.Rectangle, fs *Fonts) image.Rectangle {
	y := cell.Min.Y + fs.Ascent + 2
	if y >= cell.Max.Y {
		y = cell.Max.Y - 1
	}
	return image.Rect(cell.Min.X, y, cell.Max.X, y+1)
}

func (fs *Fonts) drawGlyph(img *image.RGBA, cell image.Rectangle, r rune, bold bool, fg color.RGBA) {
	f := fs.pick(r, bold)
	if f == nil {
		fs.Missing[r]++
		// A visible hollow box, as terminals draw a missing glyph.
		in := cell.Inset(2)
		strokeRect(img, in, fg)
		return
	}
	dot := fixed.P(cell.Min.X, cell.Min.Y+fs.Ascent)
	// Centre glyphs from a proportional fallback font in their cell.
	if adv, ok := f.face.GlyphAdvance(r); ok {
		dot.X += (fixed.I(cell.Dx()) - adv) / 2
	}
	dr, mask, mp, _, ok := f.face.Glyph(dot, r)
	if !ok {
		fs.Missing[r]++
		return
	}
	// Clip to the cell's row band (a glyph may overhang sideways a little,
	// as in a terminal, but never into the next line).
	clip := image.Rect(cell.Min.X-fs.CellW/2, cell.Min.Y, cell.Max.X+fs.CellW/2, cell.Max.Y).Intersect(img.Rect)
	dr2 := dr.Intersect(clip)
	for y := dr2.Min.Y; y < dr2.Max.Y; y++ {
		for x := dr2.Min.X; x < dr2.Max.X; x++ {
			_, _, _, a := mask.At(mp.X+x-dr.Min.X, mp.Y+y-dr.Min.Y).RGBA()
			cov := float64(a) / 0xffff
			if fs.quantize > 1 {
				q := float64(fs.quantize - 1)
				cov = math.Round(cov*q) / q
			}
			blend(img, x, y, fg, cov)
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func strokeRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fill(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}

func blend(img *image.RGBA, x, y int, c color.RGBA, a float64) {
	if a <= 0 || !(image.Point{x, y}.In(img.Rect)) {
		return
	}
	if a >= 1 {
		img.SetRGBA(x, y, c)
		return
	}
	img.SetRGBA(x, y, mix(img.RGBAAt(x, y), c, a))
}

// drawBlock paints the block elements U+2580–U+259F geometrically, so bars
// and sparklines fill their cells exactly, with no gaps between lines.
func drawBlock(img *image.RGBA, cell image.Rectangle, r rune, fg, bg color.RGBA) bool {
	if r < 0x2580 || r > 0x259f {
		return false
	}
	x0, y0, w, h := cell.Min.X, cell.Min.Y, cell.Dx(), cell.Dy()
	rect := func(fx0, fy0, fx1, fy1 float64) image.Rectangle {
		return image.Rect(x0+int(math.Round(fx0*float64(w))), y0+int(math.Round(fy0*float64(h))),
			x0+int(math.Round(fx1*float64(w))), y0+int(math.Round(fy1*float64(h))))
	}
	switch {
	case r == 0x2580: // ▀
		fill(img, rect(0, 0, 1, 0.5), fg)
	case r >= 0x2581 && r <= 0x2588: // ▁ … █: lower n/8
		n := float64(r - 0x2580)
		fill(img, rect(0, 1-n/8, 1, 1), fg)
	case r >= 0x2589 && r <= 0x258f: // ▉ … ▏: left n/8
		n := float64(0x2590 - r)
		fill(img, rect(0, 0, n/8, 1), fg)
	case r == 0x2590: // ▐
		fill(img, rect(0.5, 0, 1, 1), fg)
	case r >= 0x2591 && r <= 0x2593: // ░ ▒ ▓
		fill(img, cell, mix(bg, fg, float64(r-0x2590)*0.25))
	case r == 0x2594: // ▔
		fill(img, rect(0, 0, 1, 1.0/8), fg)
	case r == 0x2595: // ▕
		fill(img, rect(7.0/8, 0, 1, 1), fg)
	default: // quadrants ▖ … ▟
		q := map[rune]uint8{ // bits: 1 upper left, 2 upper right, 4 lower left, 8 lower right
			0x2596: 4, 0x2597: 8, 0x2598: 1, 0x2599: 1 | 4 | 8, 0x259a: 1 | 8, 0x259b: 1 | 2 | 4,
			0x259c: 1 | 2 | 8, 0x259d: 2, 0x259e: 2 | 4, 0x259f: 2 | 4 | 8,
		}[r]
		if q&1 != 0 {
			fill(img, rect(0, 0, 0.5, 0.5), fg)
		}
		if q&2 != 0 {
			fill(img, rect(0.5, 0, 1, 0.5), fg)
		}
		if q&4 != 0 {
			fill(img, rect(0, 0.5, 0.5, 1), fg)
		}
		if q&8 != 0 {
			fill(img, rect(0.5, 0.5, 1, 1), fg)
		}
	}
	return true
}

// Box-drawing arms: weight of the line going up, right, down, left
// (0 none, 1 light, 2 heavy, 3 double).
type arms struct{ u, r, d, l uint8 }

var boxArms = map[rune]arms{
	'─': {0, 1, 0, 1}, '━': {0, 2, 0, 2}, '│': {1, 0, 1, 0}, '┃': {2, 0, 2, 0},
	'┌': {0, 1, 1, 0}, '┐': {0, 0, 1, 1}, '└': {1, 1, 0, 0}, '┘': {1, 0, 0, 1},
	'┏': {0, 2, 2, 0}, '┓': {0, 0, 2, 2}, '┗': {2, 2, 0, 0}, '┛': {2, 0, 0, 2},
	'├': {1, 1, 1, 0}, '┤': {1, 0, 1, 1}, '┬': {0, 1, 1, 1}, '┴': {1, 1, 0, 1}, '┼': {1, 1, 1, 1},
	'┣': {2, 2, 2, 0}, '┫': {2, 0, 2, 2}, '┳': {0, 2, 2, 2}, '┻': {2, 2, 0, 2}, '╋': {2, 2, 2, 2},
	'╴': {0, 0, 0, 1}, '╵': {1, 0, 0, 0}, '╶': {0, 1, 0, 0}, '╷': {0, 0, 1, 0},
	'═': {0, 3, 0, 3}, '║': {3, 0, 3, 0}, '╔': {0, 3, 3, 0}, '╗': {0, 0, 3, 3},
	'╚': {3, 3, 0, 0}, '╝': {3, 0, 0, 3}, '╠': {3, 3, 3, 0}, '╣': {3, 0, 3, 3},
	'╦': {0, 3, 3, 3}, '╩': {3, 3, 0, 3}, '╬': {3, 3, 3, 3},
}

// drawBox paints the common box-drawing characters (light, heavy, double
// and rounded) so that borders join across cells.
func drawBox(img *image.RGBA, cell image.Rectangle, r rune, fg color.RGBA) bool {
	w, h := cell.Dx(), cell.Dy()
	lt := max(1, int(math.Round(float64(w)/9))) // light line thickness
	cx := cell.Min.X + (w-lt)/2                 // left edge of a centred vertical line
	cy := cell.Min.Y + (h-lt)/2                 // top edge of a centred horizontal line
	switch r {
	case '╭', '╮', '╯', '╰':
		drawArc(img, cell, r, cx, cy, lt, fg)
		return true
	}
	a, ok := boxArms[r]
	if !ok {
		return false
	}
	thick := func(wt uint8) int {
		if wt == 2 {
			return lt * 2
		}
		return lt
	}
	gap := lt * 2 // distance between the two lines of a double line
	// horizontal arms
	for _, arm := range []struct {
		wt     uint8
		x0, x1 int
	}{{a.l, cell.Min.X, cx + lt}, {a.r, cx, cell.Max.X}} {
		switch arm.wt {
		case 1, 2:
			t := thick(arm.wt)
			top := cell.Min.Y + (h-t)/2
			fill(img, image.Rect(arm.x0, top, arm.x1, top+t), fg)
		case 3:
			x0, x1 := arm.x0, arm.x1
			if x0 > cell.Min.X {
				x0 -= gap
			} else {
				x1 += gap
			}
			fill(img, image.Rect(x0, cy-gap, x1, cy-gap+lt), fg)
			fill(img, image.Rect(x0, cy+gap, x1, cy+gap+lt), fg)
		}
	}
	for _, arm := range []struct {
		wt     uint8
		y0, y1 int
	}{{a.u, cell.Min.Y, cy + lt}, {a.d, cy, cell.Max.Y}} {
		switch arm.wt {
		case 1, 2:
			t := thick(arm.wt)
			left := cell.Min.X + (w-t)/2
			fill(img, image.Rect(left, arm.y0, left+t, arm.y1), fg)
		case 3:
			y0, y1 := arm.y0, arm.y1
			if y0 > cell.Min.Y {
				y0 -= gap
			} else {
				y1 += gap
			}
			fill(img, image.Rect(cx-gap, y0, cx-gap+lt, y1), fg)
			fill(img, image.Rect(cx+gap, y0, cx+gap+lt, y1), fg)
		}
	}
	return true
}

// drawArc paints a rounded corner: straight lines from the two cell edges
// into a quarter circle around the corner, anti-aliased.
func drawArc(img *image.RGBA, cell image.Rectangle, r rune, cx, cy, lt int, fg color.RGBA) {
	rad := float64(min(cell.Dx(), cell.Dy())) / 2
	// line centres
	lx := float64(cx) + float64(lt)/2
	ly := float64(cy) + float64(lt)/2
	// the arc's centre is offset by rad from the lines' crossing, into the
	// quadrant the corner opens towards
	var ox, oy float64
	var right, down bool
	switch r {
	case '╭':
		right, down = true, true
	case '╮':
		right, down = false, true
	case '╯':
		right, down = false, false
	case '╰':
		right, down = true, false
	}
	ox, oy = lx-rad, ly-rad
	if right {
		ox = lx + rad
	}
	if down {
		oy = ly + rad
	}
	half := float64(lt) / 2
	for y := cell.Min.Y; y < cell.Max.Y; y++ {
		for x := cell.Min.X; x < cell.Max.X; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			// which part of the corner is this pixel in?
			inX := (right && px >= ox) || (!right && px <= ox)
			inY := (down && py >= oy) || (!down && py <= oy)
			var d float64
			switch {
			case inX && !inY: // straight horizontal arm
				d = math.Abs(py - ly)
			case inY && !inX: // straight vertical arm
				d = math.Abs(px - lx)
			case !inX && !inY: // quarter circle
				d = math.Abs(math.Hypot(px-ox, py-oy) - rad)
			default:
				continue
			}
			blend(img, x, y, fg, math.Min(1, math.Max(0, half+0.5-d)))
		}
	}
}

// MissingReport lists runes no font could draw.
func (fs *Fonts) MissingReport() string {
	if len(fs.Missing) == 0 {
		return ""
	}
	var rs []rune
	for r := range fs.Missing {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf(" U+%04X(%q)×%d", r, r, fs.Missing[r])
	}
	return s
}
