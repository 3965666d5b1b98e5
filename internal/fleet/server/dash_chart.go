package server

// Charts drawn by the server: an inline SVG line (or area) chart of daily counts, with its
// numbers in a table beside it, so that a page needs no JavaScript and no chart library, and a
// screen reader gets the numbers rather than a picture.

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// chartSeries is one line of a chart: a count per instant of lineChart.Times.
type chartSeries struct {
	Name   string
	Color  string // an SVG paint (presentation attribute: the page's CSP forbids inline style, not paint)
	Area   bool   // fill the area under the line
	Values []int
}

// lineChart is a chart of counts over time. ID names the svg element (the page's stable id);
// Title is the chart's accessible name; YLabel names what is counted.
type lineChart struct {
	ID     string
	Title  string
	YLabel string
	Times  []time.Time
	Series []chartSeries
}

// The chart's geometry in viewBox units; the stylesheet scales it to the page's width.
const (
	chartW, chartH                             = 720, 260
	chartLeft, chartRight, chartTop, chartBott = 56, 16, 32, 44
)

// SVG draws the chart. Every piece of text in it is escaped; numbers are formatted by the
// server, so the markup is safe to put into a page as template.HTML.
func (c lineChart) SVG() template.HTML {
	esc := template.HTMLEscapeString
	var b strings.Builder
	id := esc(c.ID)
	fmt.Fprintf(&b, `<svg id="%s" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`+"\n", id, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`+"\n", id, esc(c.Title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`+"\n", id, esc(c.describe()))

	top := 0
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	ymax, step := niceScale(top)
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBott)
	base := float64(chartTop) + plotH
	x := func(i int) float64 {
		if len(c.Times) < 2 {
			return float64(chartLeft) + plotW/2
		}
		return float64(chartLeft) + plotW*float64(i)/float64(len(c.Times)-1)
	}
	y := func(v int) float64 { return base - plotH*float64(v)/float64(ymax) }

	// Grid and y axis: a line and a number at every step.
	b.WriteString(`<g class="axis" font-size="12" fill="#57606a">` + "\n")
	for v := 0; v <= ymax; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`+"\n", chartLeft, y(v), chartW-chartRight, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d</text>`+"\n", chartLeft-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`+"\n", float64(chartTop)+plotH/2, float64(chartTop)+plotH/2, esc(c.YLabel))
	// X axis: five dates, first and last included, and the axis's name.
	for _, i := range xTicks(len(c.Times)) {
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case len(c.Times) - 1:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`+"\n", x(i), base+18, anchor, c.Times[i].UTC().Format("2 Jan"))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">Day (UTC)</text>`+"\n", float64(chartLeft)+plotW/2, chartH-4)
	b.WriteString("</g>\n")

	// Legend along the top.
	lx := chartLeft
	b.WriteString(`<g class="legend" font-size="12" fill="#1b1f24">` + "\n")
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18">%s</text>`+"\n", lx, esc(s.Color), lx+16, esc(s.Name))
		lx += 16 + 8*len(s.Name) + 24
	}
	b.WriteString("</g>\n")

	// The series: areas first, so that no area hides a line.
	for pass := 0; pass < 2; pass++ {
		for _, s := range c.Series {
			if len(s.Values) == 0 || (pass == 0 && !s.Area) {
				continue
			}
			var pts strings.Builder
			for i, v := range s.Values {
				fmt.Fprintf(&pts, " %.1f,%.1f", x(i), y(v))
			}
			if pass == 0 {
				fmt.Fprintf(&b, `<path d="M%.1f,%.1f L%s L%.1f,%.1f Z" fill="%s" fill-opacity="0.15" stroke="none"/>`+"\n",
					x(0), base, strings.TrimSpace(pts.String()), x(len(s.Values)-1), base, esc(s.Color))
				continue
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"/>`+"\n", strings.TrimSpace(pts.String()), esc(s.Color))
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// describe is the chart's text alternative in one sentence per series: the range, and each
// series' latest, lowest and highest value.
func (c lineChart) describe() string {
	if len(c.Times) == 0 {
		return "No data."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d days from %s to %s.", len(c.Times), c.Times[0].UTC().Format("2006-01-02"), c.Times[len(c.Times)-1].UTC().Format("2006-01-02"))
	for _, s := range c.Series {
		if len(s.Values) == 0 {
			continue
		}
		lo, hi := s.Values[0], s.Values[0]
		for _, v := range s.Values {
			lo, hi = min(lo, v), max(hi, v)
		}
		fmt.Fprintf(&b, " %s: %d now, lowest %d, highest %d.", s.Name, s.Values[len(s.Values)-1], lo, hi)
	}
	return b.String()
}

// niceScale gives the y axis' top and step for counts up to top: a step of 1, 2 or 5 times a
// power of ten, at most five steps, so the grid lines fall on round numbers.
func niceScale(top int) (ymax, step int) {
	if top <= 0 {
		return 1, 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			step = m * p
			if n := (top + step - 1) / step; n <= 5 {
				return n * step, step
			}
		}
	}
}

// xTicks are the indices labelled on the x axis: five spread evenly, or every one of fewer.
func xTicks(n int) []int {
	if n <= 5 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 0, 5)
	for k := 0; k < 5; k++ {
		out = append(out, k*(n-1)/4)
	}
	return out
}

var chartTableTmpl = template.Must(template.New("table").Parse(`<details class="chart-data">
<summary>The numbers behind the chart</summary>
<div class="scroll"><table aria-label="{{.Title}}">
<thead><tr><th scope="col">Day (UTC)</th>{{range .Series}}<th scope="col" class="num">{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.Day}}</td>{{range .Values}}<td class="num">{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
</details>`))

// Table is the chart's numbers as an HTML table, newest day first, in a <details> so that it
// takes no room until opened.
func (c lineChart) Table() template.HTML {
	type row struct {
		Day    string
		Values []int
	}
	rows := make([]row, 0, len(c.Times))
	for i := len(c.Times) - 1; i >= 0; i-- {
		r := row{Day: c.Times[i].UTC().Format("2006-01-02")}
		for _, s := range c.Series {
			v := 0
			if i < len(s.Values) {
				v = s.Values[i]
			}
			r.Values = append(r.Values, v)
		}
		rows = append(rows, r)
	}
	var buf bytes.Buffer
	if err := chartTableTmpl.Execute(&buf, map[string]any{"Title": c.Title, "Series": c.Series, "Rows": rows}); err != nil {
		return template.HTML(`<p class="error">` + template.HTMLEscapeString(err.Error()) + `</p>`)
	}
	return template.HTML(buf.String())
}
