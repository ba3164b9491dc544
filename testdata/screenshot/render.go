// Command render draws a terminal screen, as `tmux capture-pane -e -p`
// prints it (text with SGR escape sequences), into a PNG: the README's
// screenshots are made with it (shot.sh), so that they can be made again
// whenever the screen changes. It is a separate module so that ehlo itself
// does not depend on golang.org/x/image.
//
//	tmux capture-pane -e -p -t ehlo | go run . -o screen.png
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// cell is one character cell of the screen with its attributes.
type cell struct {
	r      rune
	fg, bg color.RGBA
	bold   bool
	faint  bool
	under  bool
}

// palette is xterm's 256 colours, the first 16 from a dark theme close to
// what the README's terminal showed.
var palette = func() [256]color.RGBA {
	var p [256]color.RGBA
	base := []uint32{
		0x15161e, 0xf7768e, 0x9ece6a, 0xe0af68, 0x7aa2f7, 0xbb9af7, 0x7dcfff, 0xa9b1d6,
		0x414868, 0xf7768e, 0x9ece6a, 0xe0af68, 0x7aa2f7, 0xbb9af7, 0x7dcfff, 0xc0caf5,
	}
	for i, v := range base {
		p[i] = rgb(v)
	}
	levels := []uint8{0, 95, 135, 175, 215, 255}
	for i := 0; i < 216; i++ {
		p[16+i] = color.RGBA{levels[i/36], levels[i/6%6], levels[i%6], 255}
	}
	for i := 0; i < 24; i++ {
		v := uint8(8 + 10*i)
		p[232+i] = color.RGBA{v, v, v, 255}
	}
	return p
}()

var (
	defaultFG = rgb(0xc0caf5)
	defaultBG = rgb(0x1a1b26)
)

func rgb(v uint32) color.RGBA {
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

func main() {
	out := flag.String("o", "screen.png", "the PNG to write")
	regular := flag.String("font", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "a monospaced TrueType font")
	boldFont := flag.String("bold", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", "its bold face")
	size := flag.Float64("size", 15, "font size in pixels")
	flag.Parse()
	screen, err := parse(os.Stdin)
	if err != nil {
		fail(err)
	}
	faces := [2]font.Face{load(*regular, *size), load(*boldFont, *size)}
	img := draw1(screen, faces)
	f, err := os.Create(*out + ".tmp")
	if err != nil {
		fail(err)
	}
	if err := png.Encode(f, img); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "render:", err)
	os.Exit(1)
}

func load(path string, size float64) font.Face {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	f, err := opentype.Parse(b)
	if err != nil {
		fail(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		fail(err)
	}
	return face
}

// parse reads the screen: one row a line, SGR sequences applied as tmux
// wrote them (each row starts from the attributes the last one ended with).
func parse(r io.Reader) ([][]cell, error) {
	var rows [][]cell
	cur := cell{fg: defaultFG, bg: defaultBG}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row []cell
		s := sc.Text()
		for i := 0; i < len(s); {
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
				j := i + 2
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
				if j < len(s) && s[j] == 'm' {
					sgr(&cur, s[i+2:j])
				}
				i = j + 1
				continue
			}
			rn, n := utf8.DecodeRuneInString(s[i:])
			c := cur
			c.r = rn
			row = append(row, c)
			i += n
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// sgr applies one Select Graphic Rendition sequence.
func sgr(c *cell, params string) {
	if params == "" {
		params = "0"
	}
	f := strings.Split(params, ";")
	for i := 0; i < len(f); i++ {
		n, _ := strconv.Atoi(f[i])
		switch {
		case n == 0:
			*c = cell{fg: defaultFG, bg: defaultBG}
		case n == 1:
			c.bold = true
		case n == 2:
			c.faint = true
		case n == 4:
			c.under = true
		case n == 7:
			c.fg, c.bg = c.bg, c.fg
		case n == 22:
			c.bold, c.faint = false, false
		case n == 24:
			c.under = false
		case n >= 30 && n <= 37:
			c.fg = palette[n-30]
		case n >= 90 && n <= 97:
			c.fg = palette[n-90+8]
		case n >= 40 && n <= 47:
			c.bg = palette[n-40]
		case n >= 100 && n <= 107:
			c.bg = palette[n-100+8]
		case n == 39:
			c.fg = defaultFG
		case n == 49:
			c.bg = defaultBG
		case n == 38 || n == 48:
			col, used := extended(f[i+1:])
			i += used
			if n == 38 {
				c.fg = col
			} else {
				c.bg = col
			}
		}
	}
}

// extended reads the 5;N or 2;R;G;B after 38 or 48.
func extended(f []string) (color.RGBA, int) {
	num := func(i int) uint8 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.Atoi(f[i])
		return uint8(v)
	}
	if len(f) > 0 && f[0] == "5" {
		return palette[num(1)], 2
	}
	if len(f) > 0 && f[0] == "2" {
		return color.RGBA{num(1), num(2), num(3), 255}, 4
	}
	return defaultFG, 0
}

func draw1(rows [][]cell, faces [2]font.Face) *image.RGBA {
	m := faces[0].Metrics()
	adv, _ := faces[0].GlyphAdvance('M')
	cw := adv.Ceil()
	ch := (m.Ascent + m.Descent).Ceil() + 3
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	const pad = 16
	img := image.NewRGBA(image.Rect(0, 0, cols*cw+2*pad, len(rows)*ch+2*pad))
	draw.Draw(img, img.Bounds(), &image.Uniform{defaultBG}, image.Point{}, draw.Src)
	for y, row := range rows {
		for x, c := range row {
			rect := image.Rect(pad+x*cw, pad+y*ch, pad+(x+1)*cw, pad+(y+1)*ch)
			if c.bg != defaultBG {
				draw.Draw(img, rect, &image.Uniform{c.bg}, image.Point{}, draw.Src)
			}
			fg := c.fg
			if c.faint {
				fg = color.RGBA{uint8((int(fg.R) + int(defaultBG.R)) / 2), uint8((int(fg.G) + int(defaultBG.G)) / 2), uint8((int(fg.B) + int(defaultBG.B)) / 2), 255}
			}
			if boxDrawing(c.r, img, rect, fg) {
				continue
			}
			face := faces[0]
			if c.bold {
				face = faces[1]
			}
			d := font.Drawer{Dst: img, Src: &image.Uniform{fg}, Face: face,
				Dot: fixed.P(rect.Min.X, rect.Min.Y+m.Ascent.Ceil()+1)}
			d.DrawString(string(c.r))
			if c.under {
				draw.Draw(img, image.Rect(rect.Min.X, rect.Max.Y-2, rect.Max.X, rect.Max.Y-1), &image.Uniform{fg}, image.Point{}, draw.Src)
			}
		}
	}
	return img
}

// boxDrawing draws the frame characters as lines that meet from cell to
// cell, which a font's glyphs do not when the line height is padded.
func boxDrawing(r rune, img *image.RGBA, rect image.Rectangle, fg color.RGBA) bool {
	var up, down, left, right bool
	switch r {
	case '─':
		left, right = true, true
	case '│':
		up, down = true, true
	case '╭', '┌':
		down, right = true, true
	case '╮', '┐':
		down, left = true, true
	case '╰', '└':
		up, right = true, true
	case '╯', '┘':
		up, left = true, true
	case '├':
		up, down, right = true, true, true
	case '┤':
		up, down, left = true, true, true
	case '┬':
		down, left, right = true, true, true
	case '┴':
		up, left, right = true, true, true
	case '┼':
		up, down, left, right = true, true, true, true
	default:
		return false
	}
	cx, cy := (rect.Min.X+rect.Max.X)/2, (rect.Min.Y+rect.Max.Y)/2
	u := &image.Uniform{fg}
	if left {
		draw.Draw(img, image.Rect(rect.Min.X, cy, cx+1, cy+1), u, image.Point{}, draw.Src)
	}
	if right {
		draw.Draw(img, image.Rect(cx, cy, rect.Max.X, cy+1), u, image.Point{}, draw.Src)
	}
	if up {
		draw.Draw(img, image.Rect(cx, rect.Min.Y, cx+1, cy+1), u, image.Point{}, draw.Src)
	}
	if down {
		draw.Draw(img, image.Rect(cx, cy, cx+1, rect.Max.Y), u, image.Point{}, draw.Src)
	}
	return true
}
