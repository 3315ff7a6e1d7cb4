// Command render turns a terminal capture with SGR colours (tmux
// capture-pane -e -p) into a PNG, drawing text with a monospace TrueType
// font and block elements and box drawing geometrically.
//
//	go run . -cols 120 -rows 40 -in capture.ans -out screen.png
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"io"
	"os"
	"strings"
)

const dejavu = "/usr/share/fonts/truetype/dejavu/"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", "-", "capture file (- for stdin)")
	out := flag.String("out", "", "PNG file to write")
	cols := flag.Int("cols", 120, "terminal width in cells")
	rows := flag.Int("rows", 40, "terminal height in cells")
	size := flag.Float64("size", 15, "font size in pixels")
	lineHeight := flag.Float64("line-height", 1.0, "cell height as a multiple of the font's height")
	margin := flag.Int("margin", 14, "background margin around the screen, pixels")
	regular := flag.String("font", dejavu+"DejaVuSansMono.ttf", "monospace TTF")
	bold := flag.String("bold-font", dejavu+"DejaVuSansMono-Bold.ttf", "bold monospace TTF (empty: none)")
	fallback := flag.String("fallback-fonts", dejavu+"DejaVuSans.ttf", "comma-separated fonts for runes the monospace font lacks")
	strict := flag.Bool("strict", true, "fail when a rune has no glyph in any font or text falls outside the grid")
	gifOut := flag.String("gif", "", "write an animated GIF of the captures listed (comma-separated) in -in, instead of a PNG")
	delay := flag.Int("delay", 150, "GIF: hundredths of a second per frame (the last one shows three times as long)")
	flag.Parse()
	if *gifOut != "" {
		return writeGIF(*gifOut, strings.Split(*in, ","), *delay, func(data []byte) (*image.RGBA, error) {
			fs, err := LoadFonts(*regular, *bold, splitList(*fallback), *size, *lineHeight)
			if err != nil {
				return nil, err
			}
			g, dropped := Parse(string(data), *cols, *rows)
			if dropped > 0 && *strict {
				return nil, fmt.Errorf("%d characters fall outside the %dx%d grid", dropped, *cols, *rows)
			}
			return Render(g, fs, DarkTheme, *margin), nil
		})
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return err
	}
	var fallbacks []string
	for _, p := range strings.Split(*fallback, ",") {
		if p = strings.TrimSpace(p); p != "" {
			fallbacks = append(fallbacks, p)
		}
	}
	fs, err := LoadFonts(*regular, *bold, fallbacks, *size, *lineHeight)
	if err != nil {
		return fmt.Errorf("fonts (Debian: apt-get install fonts-dejavu-core): %w", err)
	}
	g, dropped := Parse(string(data), *cols, *rows)
	img := Render(g, fs, DarkTheme, *margin)
	if miss := fs.MissingReport(); miss != "" {
		msg := "no glyph for" + miss
		if *strict {
			return fmt.Errorf("%s", msg)
		}
		fmt.Fprintln(os.Stderr, "render: warning:", msg)
	}
	if dropped > 0 {
		msg := fmt.Sprintf("%d characters fall outside the %dx%d grid", dropped, *cols, *rows)
		if *strict {
			return fmt.Errorf("%s", msg)
		}
		fmt.Fprintln(os.Stderr, "render: warning:", msg)
	}
	return writePNG(*out, img)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeGIF renders each capture as one frame of an animated GIF (each frame
// with its own palette: a terminal screen has few colours).
func writeGIF(path string, ins []string, delay int, render func([]byte) (*image.RGBA, error)) error {
	anim := &gif.GIF{}
	for i, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		img, err := render(data)
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		p := toPaletted(img)
		if p == nil {
			p = image.NewPaletted(img.Rect, palette.Plan9)
			draw.Draw(p, img.Rect, img, img.Rect.Min, draw.Src)
		}
		d := delay
		if i == len(ins)-1 {
			d *= 3
		}
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, d)
	}
	if len(anim.Image) == 0 {
		return fmt.Errorf("no frames")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gif.EncodeAll(f, anim); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writePNG writes img as a paletted PNG when it has at most 256 colours
// (coverage is quantized, so terminal screens usually do), RGB otherwise.
func writePNG(path string, img *image.RGBA) error {
	var m image.Image = img
	if p := toPaletted(img); p != nil {
		m = p
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, m); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func toPaletted(img *image.RGBA) *image.Paletted {
	idx := map[color.RGBA]uint8{}
	var pal color.Palette
	b := img.Rect
	p := image.NewPaletted(b, nil)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.RGBAAt(x, y)
			i, ok := idx[c]
			if !ok {
				if len(pal) == 256 {
					return nil
				}
				i = uint8(len(pal))
				idx[c] = i
				pal = append(pal, c)
			}
			p.Pix[p.PixOffset(x, y)] = i
		}
	}
	p.Palette = pal
	return p
}
