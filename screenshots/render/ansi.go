package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Color is a terminal colour: the default, one of the 256 indexed colours,
// or a 24-bit RGB value.
type Color struct {
	Kind    ColorKind
	Index   uint8 // KindIndexed
	R, G, B uint8 // KindRGB
}

// ColorKind says how to read a Color.
type ColorKind uint8

const (
	KindDefault ColorKind = iota
	KindIndexed
	KindRGB
)

// Attr is a cell's SGR attributes.
type Attr struct {
	FG, BG    Color
	Bold      bool
	Faint     bool
	Italic    bool
	Underline bool
	Reverse   bool
	Invisible bool
	Strike    bool
}

// Cell is one character cell. Wide characters occupy their cell and the
// next one, which is marked Cont.
type Cell struct {
	R    rune
	A    Attr
	Cont bool
}

// Grid is a screen of Rows×Cols cells.
type Grid struct {
	Cols, Rows int
	Cells      [][]Cell
}

// NewGrid returns a blank grid.
func NewGrid(cols, rows int) *Grid {
	g := &Grid{Cols: cols, Rows: rows, Cells: make([][]Cell, rows)}
	for y := range g.Cells {
		g.Cells[y] = make([]Cell, cols)
		for x := range g.Cells[y] {
			g.Cells[y][x].R = ' '
		}
	}
	return g
}

// Parse reads terminal text with SGR escape sequences (tmux capture-pane -e
// -p output) into a grid of cols×rows cells. Text beyond the grid is
// dropped; other escape sequences (cursor movement, OSC, ...) are ignored:
// capture-pane output has none that place text. The SGR state carries over
// line ends, as tmux writes it. It returns how many characters fell outside
// the grid, so callers can tell a capture of the wrong size.
func Parse(s string, cols, rows int) (*Grid, int) {
	g := NewGrid(cols, rows)
	var a Attr
	x, y, dropped := 0, 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			i = parseEscape(s, i, &a)
			continue
		case c == '\n':
			x, y = 0, y+1
		case c == '\r':
			x = 0
		case c == '\t':
			x = (x/8 + 1) * 8
		case c < 0x20 || c == 0x7f:
			// other controls draw nothing
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			w := runeWidth(r)
			if w == 0 {
				i += n
				continue
			}
			if y < rows && x+w <= cols {
				g.Cells[y][x] = Cell{R: r, A: a}
				if w == 2 {
					g.Cells[y][x+1] = Cell{R: ' ', A: a, Cont: true}
				}
			} else if r != ' ' {
				dropped++
			}
			x += w
			i += n
			continue
		}
		i++
	}
	return g, dropped
}

// parseEscape consumes the escape sequence at s[i] (ESC) and returns the
// index after it, applying SGR sequences to a.
func parseEscape(s string, i int, a *Attr) int {
	if i+1 >= len(s) {
		return len(s)
	}
	switch s[i+1] {
	case '[': // CSI: parameters, intermediates, one final byte
		j := i + 2
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
			j++
		}
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j >= len(s) {
			return len(s)
		}
		if s[j] == 'm' {
			applySGR(s[i+2:j], a)
		}
		return j + 1
	case ']', 'P', '_', '^', 'X': // string sequences up to BEL or ST
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return i + 2
}

// applySGR applies the parameters of one SGR sequence ("1;38;5;208").
func applySGR(params string, a *Attr) {
	if params == "" {
		*a = Attr{}
		return
	}
	ps := strings.Split(params, ";")
	for k := 0; k < len(ps); k++ {
		p := ps[k]
		if strings.Contains(p, ":") { // ITU T.416 form: 38:5:n, 38:2::r:g:b, 4:3
			sub := strings.Split(p, ":")
			n := atoi(sub[0])
			switch n {
			case 38, 48, 58:
				col, ok := colonColor(sub[1:])
				if ok && n == 38 {
					a.FG = col
				} else if ok && n == 48 {
					a.BG = col
				}
			case 4:
				a.Underline = len(sub) < 2 || atoi(sub[1]) != 0
			}
			continue
		}
		n := atoi(p)
		switch {
		case n == 0:
			*a = Attr{}
		case n == 1:
			a.Bold = true
		case n == 2:
			a.Faint = true
		case n == 3:
			a.Italic = true
		case n == 4:
			a.Underline = true
		case n == 7:
			a.Reverse = true
		case n == 8:
			a.Invisible = true
		case n == 9:
			a.Strike = true
		case n == 21:
			a.Underline = true
		case n == 22:
			a.Bold, a.Faint = false, false
		case n == 23:
			a.Italic = false
		case n == 24:
			a.Underline = false
		case n == 27:
			a.Reverse = false
		case n == 28:
			a.Invisible = false
		case n == 29:
			a.Strike = false
		case n >= 30 && n <= 37:
			a.FG = Color{Kind: KindIndexed, Index: uint8(n - 30)}
		case n == 39:
			a.FG = Color{}
		case n >= 40 && n <= 47:
			a.BG = Color{Kind: KindIndexed, Index: uint8(n - 40)}
		case n == 49:
			a.BG = Color{}
		case n >= 90 && n <= 97:
			a.FG = Color{Kind: KindIndexed, Index: uint8(n - 90 + 8)}
		case n >= 100 && n <= 107:
			a.BG = Color{Kind: KindIndexed, Index: uint8(n - 100 + 8)}
		case n == 38 || n == 48 || n == 58:
			var col Color
			ok := false
			if k+2 < len(ps) && ps[k+1] == "5" {
				col, ok = Color{Kind: KindIndexed, Index: uint8(atoi(ps[k+2]))}, true
				k += 2
			} else if k+4 < len(ps) && ps[k+1] == "2" {
				col = Color{Kind: KindRGB, R: uint8(atoi(ps[k+2])), G: uint8(atoi(ps[k+3])), B: uint8(atoi(ps[k+4]))}
				ok = true
				k += 4
			} else {
				k = len(ps) // malformed: the rest is its arguments
			}
			if ok && n == 38 {
				a.FG = col
			} else if ok && n == 48 {
				a.BG = col
			}
		}
	}
}

// colonColor reads the arguments of 38:... (5:n, or 2:[colorspace:]r:g:b).
func colonColor(sub []string) (Color, bool) {
	if len(sub) >= 2 && sub[0] == "5" {
		return Color{Kind: KindIndexed, Index: uint8(atoi(sub[1]))}, true
	}
	if len(sub) >= 4 && sub[0] == "2" {
		rgb := sub[1:]
		if len(rgb) >= 4 {
			rgb = rgb[1:] // colour space id
		}
		return Color{Kind: KindRGB, R: uint8(atoi(rgb[0])), G: uint8(atoi(rgb[1])), B: uint8(atoi(rgb[2]))}, true
	}
	return Color{}, false
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// runeWidth is the number of cells a rune takes: 0 for combining marks and
// other zero-width runes (dropped: capture-pane output of this UI has none
// worth drawing), 2 for East Asian wide and emoji, 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r == 0x200b || r == 0x200c || r == 0x200d || r == 0xfe0f || r == 0xfe0e:
		return 0
	case r >= 0x0300 && r <= 0x036f, r >= 0x20d0 && r <= 0x20ff:
		return 0
	case r >= 0x1100 && r <= 0x115f,
		r >= 0x2e80 && r <= 0x303e, r >= 0x3041 && r <= 0x33ff,
		r >= 0x3400 && r <= 0x4dbf, r >= 0x4e00 && r <= 0x9fff,
		r >= 0xa000 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}
