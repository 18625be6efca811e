package results

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// palette is colour-blind friendly (Okabe–Ito) and readable on white.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// Series is one line of a chart: Y[i] is the value at X[i].
type Series struct {
	Name  string
	Y     []float64
	Color string // "" picks from the palette
	Dash  bool
}

// LineChart is a line chart drawn as inline SVG.
type LineChart struct {
	Title  string
	XLabel string
	YLabel string
	X      []float64
	Series []Series
	LogY   bool // log10 scale; values ≤ 0 are not drawn
	Width  int
	Height int
}

const (
	padLeft   = 58
	padRight  = 12
	padTop    = 40
	padBottom = 40
)

// SVG renders the chart.
func (c LineChart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 560
	}
	if h == 0 {
		h = 240
	}
	legend, rows := legendLayout(c.Series, padLeft+6, w-padRight)
	top := padTop + 13*(rows-1)
	pw, ph := float64(w-padLeft-padRight), float64(h-top-padBottom)
	xmin, xmax := bounds(c.X)
	if xmax <= xmin {
		xmax = xmin + 1
	}
	var ys []float64
	for _, s := range c.Series {
		for _, v := range s.Y {
			if !c.LogY || v > 0 {
				ys = append(ys, v)
			}
		}
	}
	var ticks []float64
	var ymap func(float64) float64
	if c.LogY {
		lo, hi := bounds(ys)
		if len(ys) == 0 {
			lo, hi = 1, 10
		}
		l0, l1 := math.Floor(math.Log10(max(lo, 1e-3))), math.Ceil(math.Log10(max(hi, 1e-3)))
		if l1 <= l0 {
			l1 = l0 + 1
		}
		for e := l0; e <= l1; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
		ymap = func(v float64) float64 { return float64(top) + ph*(1-(math.Log10(v)-l0)/(l1-l0)) }
	} else {
		_, hi := bounds(ys)
		ytop, step := niceMax(hi)
		for v := 0.0; v <= ytop+step/2; v += step {
			ticks = append(ticks, v)
		}
		ymap = func(v float64) float64 { return float64(top) + ph*(1-v/ytop) }
	}
	xmap := func(v float64) float64 { return float64(padLeft) + pw*(v-xmin)/(xmax-xmin) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" class="chart" role="img">`, w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`, esc(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="16" class="ct">%s</text>`, padLeft, esc(c.Title))
	for _, t := range ticks {
		y := ymap(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, padLeft, w-padRight, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="yt">%s</text>`, padLeft-4, y+3.5, fmtNum(t))
	}
	for _, t := range xTicks(xmin, xmax) {
		x := xmap(t)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="axis"/>`, x, x, h-padBottom, h-padBottom+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xt">%s</text>`, x, h-padBottom+15, fmtNum(t))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="axis"/>`, padLeft, w-padRight, h-padBottom, h-padBottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="xt">%s</text>`, padLeft+int(pw/2), h-6, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(12 %d) rotate(-90)" class="xt">%s</text>`, top+int(ph/2), esc(c.YLabel))
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="4 3"`
		}
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`, color, dash, strings.Join(pts, " "))
			} else if len(pts) == 1 {
				xy := strings.Split(pts[0], ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2" fill="%s"/>`, xy[0], xy[1], color)
			}
			pts = pts[:0]
		}
		for j, v := range s.Y {
			if j >= len(c.X) || c.LogY && v <= 0 || math.IsNaN(v) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xmap(c.X[j]), ymap(v)))
		}
		flush()
		at := legend[i]
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, at.x, at.x+10, at.y-3, at.y-3, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lg">%s</text>`, at.x+13, at.y, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// BarChart is a grouped bar chart: one group per label, one bar per series.
type BarChart struct {
	Title  string
	YLabel string
	Labels []string
	Series []Series // Y[i] belongs to Labels[i]
	Width  int
	Height int
}

// SVG renders the chart.
func (c BarChart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 760
	}
	if h == 0 {
		h = 300
	}
	bottom := 96 // room for slanted labels
	pw, ph := float64(w-padLeft-padRight), float64(h-padTop-bottom)
	var ys []float64
	for _, s := range c.Series {
		ys = append(ys, s.Y...)
	}
	_, hi := bounds(ys)
	top, step := niceMax(hi)
	ymap := func(v float64) float64 { return float64(padTop) + ph*(1-v/top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" class="chart" role="img">`, w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title><text x="%d" y="16" class="ct">%s</text>`, esc(c.Title), padLeft, esc(c.Title))
	for v := 0.0; v <= top+step/2; v += step {
		y := ymap(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, padLeft, w-padRight, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="yt">%s</text>`, padLeft-4, y+3.5, fmtNum(v))
	}
	fmt.Fprintf(&b, `<text transform="translate(12 %d) rotate(-90)" class="xt">%s</text>`, padTop+int(ph/2), esc(c.YLabel))
	n := max(len(c.Labels), 1)
	group := pw / float64(n)
	bar := group * 0.8 / float64(max(len(c.Series), 1))
	for i, label := range c.Labels {
		gx := float64(padLeft) + group*float64(i) + group*0.1
		for j, s := range c.Series {
			if i >= len(s.Y) {
				continue
			}
			color := s.Color
			if color == "" {
				color = palette[j%len(palette)]
			}
			y := ymap(s.Y[i])
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				gx+bar*float64(j), y, max(bar-1, 1), float64(padTop)+ph-y, color, esc(label), esc(s.Name), fmtNum(s.Y[i]))
		}
		cx := gx + group*0.4
		fmt.Fprintf(&b, `<text transform="translate(%.1f %d) rotate(-35)" class="bl">%s</text>`, cx, h-bottom+12, esc(label))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="axis"/>`, padLeft, w-padRight, h-bottom, h-bottom)
	lx := padLeft + 6
	for j, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[j%len(palette)]
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="8" fill="%s"/><text x="%d" y="%d" class="lg">%s</text>`,
			lx, 22, color, lx+13, 30, esc(s.Name))
		lx += 14 + 6*len([]rune(s.Name)) + 10
	}
	b.WriteString(`</svg>`)
	return b.String()
}

type point struct{ x, y int }

// legendLayout places one legend entry per series in rows between left and right,
// starting under the title; it returns the places and the number of rows.
func legendLayout(series []Series, left, right int) ([]point, int) {
	places := make([]point, len(series))
	x, row := left, 0
	for i, s := range series {
		width := 13 + int(5.8*float64(len([]rune(s.Name)))) + 12
		if x+width > right && x > left {
			x, row = left, row+1
		}
		places[i] = point{x, 30 + 13*row}
		x += width
	}
	return places, row + 1
}

func esc(s string) string { return html.EscapeString(s) }

func bounds(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// niceMax returns an axis top ≥ hi and a tick step, both round numbers, with about
// five ticks.
func niceMax(hi float64) (top, step float64) {
	if hi <= 0 || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return 1, 0.2
	}
	raw := hi / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(hi/step) * step, step
}

func xTicks(lo, hi float64) []float64 {
	_, step := niceMax(hi - lo)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step/1000; v += step {
		out = append(out, v)
	}
	return out
}

// fmtNum renders an axis value compactly: 1500 → 1.5k.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trim(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 1e4:
		return trim(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return trim(fmt.Sprintf("%.1f", v))
	default:
		return trim(fmt.Sprintf("%.3f", v))
	}
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
