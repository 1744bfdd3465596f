package report

import (
	"strconv"
)

// chart is a horizontal bar chart laid out in Go: the template only places
// the numbers computed here, and escapes every label.
type chart struct {
	Title      string
	Width      int
	Height     int
	Rows       []chartRow
	Ticks      []chartTick
	Refs       []chartRef
	Legend     []legendItem
	PlotBottom int
	Empty      string // shown inside the plot when there is nothing to draw
	EmptyY     int
}

type chartRow struct {
	Label  string
	LabelY int
	Y, H   int
	Segs   []chartSeg
	Value  string
	ValueX int
	Err    *errBar
	ErrY   int
}

type chartSeg struct {
	X, W  string
	Class string
}

type errBar struct{ X1, X2 string }

type chartTick struct {
	X     string
	Label string
}

type chartRef struct {
	X     string
	Label string
}

type legendItem struct {
	X     int
	Class string
	Label string
}

const (
	chartLabelW = 170 // label column
	chartPlotW  = 420 // plot area
	chartRowH   = 22
	chartTop    = 26 // room for the legend
	chartBottom = 24 // room for the axis labels
	chartMaxRow = 40 // rows drawn; the tables list them all
)

type seg struct {
	v     float64
	class string
}

type rowSpec struct {
	label  string
	segs   []seg
	value  string
	lo, hi float64 // error bar (share charts); both 0: none
}

// newChart lays out rows on a scale from 0 to max (the largest row total
// when top is 0). share charts get percent ticks.
func newChart(title string, rows []rowSpec, top float64, share bool, legend []legendItem, refs []chartRef) chart {
	c := chart{Title: title, Width: chartLabelW + chartPlotW + 130, Legend: legend}
	if len(rows) > chartMaxRow {
		more := len(rows) - chartMaxRow
		rows = append(rows[:chartMaxRow:chartMaxRow], rowSpec{label: "… " + strconv.Itoa(more) + " more (see the table)"})
	}
	if top <= 0 {
		for _, r := range rows {
			t := 0.0
			for _, s := range r.segs {
				t += s.v
			}
			top = maxf(top, t)
		}
	}
	n := max(len(rows), 1)
	c.Height = chartTop + n*chartRowH + chartBottom
	c.PlotBottom = c.Height - chartBottom + 4
	allZero := top == 0
	if allZero {
		top = 1
	}
	x := func(v float64) float64 { return chartLabelW + v/top*chartPlotW }
	for i, r := range rows {
		y := chartTop + i*chartRowH
		row := chartRow{Label: r.label, LabelY: y + 15, Y: y + 4, H: chartRowH - 8, ErrY: y + chartRowH/2, Value: r.value}
		acc := 0.0
		for _, s := range r.segs {
			if s.v <= 0 {
				continue
			}
			row.Segs = append(row.Segs, chartSeg{X: fx(x(acc)), W: fx(x(acc+s.v) - x(acc)), Class: s.class})
			acc += s.v
		}
		row.ValueX = int(x(acc)) + 6
		if r.lo != 0 || r.hi != 0 {
			row.Err = &errBar{X1: fx(x(r.lo)), X2: fx(x(r.hi))}
			row.ValueX = int(maxf(x(acc), x(r.hi))) + 6
		}
		c.Rows = append(c.Rows, row)
	}
	if len(rows) == 0 {
		c.Empty = "nothing in this period"
		c.EmptyY = chartTop + 15
	}
	if share {
		for _, p := range []float64{0, 0.25, 0.5, 0.75, 1} {
			c.Ticks = append(c.Ticks, chartTick{X: fx(x(p)), Label: strconv.Itoa(int(p*100)) + " %"})
		}
	} else if !allZero {
		for _, v := range niceTicks(top) {
			c.Ticks = append(c.Ticks, chartTick{X: fx(x(v)), Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
	}
	for _, r := range refs {
		v, _ := strconv.ParseFloat(r.X, 64)
		c.Refs = append(c.Refs, chartRef{X: fx(x(v)), Label: r.Label})
	}
	return c
}

// niceTicks returns 0 and up to four round values up to max.
func niceTicks(max float64) []float64 {
	step := 1.0
	for max/step > 5 {
		switch {
		case max/(step*2) <= 5:
			step *= 2
		case max/(step*5) <= 5:
			step *= 5
		default:
			step *= 10
		}
	}
	var out []float64
	for v := 0.0; v <= max+1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// fx formats a coordinate with one decimal: stable output for golden files.
func fx(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// The plots of each section.

func (r *Report) samplingChart() chart {
	s := r.Sampling
	var rows []rowSpec
	for _, a := range s.Agents {
		cls := "ok"
		if a.Flagged {
			cls = "bad"
		}
		rows = append(rows, rowSpec{label: a.Key, segs: []seg{{a.Share.Value, cls}}, lo: a.Share.Low, hi: a.Share.High,
			value: pctNum(a.Share.Value) + " % of " + strconv.Itoa(a.Decided)})
	}
	var refs []chartRef
	seen := map[float64]bool{}
	for _, ru := range s.Rules {
		if ru.Rate > 0 && !seen[ru.Rate] {
			seen[ru.Rate] = true
			refs = append(refs, chartRef{X: strconv.FormatFloat(ru.Rate, 'g', -1, 64), Label: "rate " + pctNum(ru.Rate) + " %"})
		}
	}
	return newChart("Share of calls recorded per agent, with 95 % interval", rows, 1, true,
		[]legendItem{{0, "ok", "recorded share"}, {150, "bad", "near-systematic"}, {300, "ref", "policy rate"}}, refs)
}

func (r *Report) noticesChart() chart {
	n := r.Notices
	rows := []rowSpec{
		{label: "notices completed", segs: []seg{{float64(n.Completed), "ok"}}, value: strconv.Itoa(n.Completed)},
		{label: "notices interrupted", segs: []seg{{float64(n.Interrupted), "warn"}}, value: strconv.Itoa(n.Interrupted)},
		{label: "consents", segs: []seg{{float64(n.Consents), "ok"}}, value: strconv.Itoa(n.Consents)},
		{label: "objections honoured", segs: []seg{{float64(n.Honoured + n.NotApplicable), "ok"}}, value: strconv.Itoa(n.Honoured + n.NotApplicable)},
		{label: "objections uncheckable", segs: []seg{{float64(n.Uncheckable), "warn"}}, value: strconv.Itoa(n.Uncheckable)},
		{label: "objections not honoured", segs: []seg{{float64(n.NotHonoured), "bad"}}, value: strconv.Itoa(n.NotHonoured)},
	}
	return newChart("Notices, consents and objections", rows, 0, false,
		[]legendItem{{0, "ok", "as required"}, {150, "warn", "to look at"}, {300, "bad", "violation"}}, nil)
}

func (r *Report) latenessChart() chart {
	var rows []rowSpec
	for _, b := range r.Retention.Lateness {
		cls := "ok"
		if b.Bad {
			cls = "bad"
		}
		rows = append(rows, rowSpec{label: b.Label, segs: []seg{{float64(b.Count), cls}}, value: strconv.Itoa(b.Count)})
	}
	return newChart("Deletions at expiry by lateness past the deadline", rows, 0, false,
		[]legendItem{{0, "ok", "within grace"}, {150, "bad", "late (violation)"}}, nil)
}

func (r *Report) ageChart() chart {
	rt := r.Retention
	var rows []rowSpec
	for i, l := range rt.AgeBuckets {
		kept := 0
		for _, p := range rt.ByPurpose {
			kept += p.Ages[i]
		}
		rows = append(rows, rowSpec{label: l, segs: []seg{{float64(kept), "ok"}}, value: strconv.Itoa(kept)})
	}
	return newChart("Recordings kept, by age", rows, 0, false, nil, nil)
}

func (r *Report) accessChart() chart {
	var rows []rowSpec
	for _, c := range r.Access.ByRole {
		rows = append(rows, rowSpec{label: c.Key, segs: []seg{{float64(c.Granted), "ok"}, {float64(c.Denied), "warn"}},
			value: strconv.Itoa(c.Granted) + " / " + strconv.Itoa(c.Denied)})
	}
	return newChart("Openings and refusals by role", rows, 0, false,
		[]legendItem{{0, "ok", "opened"}, {150, "warn", "refused"}}, nil)
}

func (r *Report) pausesChart() chart {
	var rows []rowSpec
	for _, b := range r.Pauses.Lengths {
		cls := "ok"
		if b.Bad {
			cls = "bad"
		}
		rows = append(rows, rowSpec{label: b.Label, segs: []seg{{float64(b.Count), cls}}, value: strconv.Itoa(b.Count)})
	}
	return newChart("Card-data pauses by length", rows, 0, false,
		[]legendItem{{0, "ok", "within MaxPause"}, {150, "bad", "too long (violation)"}}, nil)
}

func (r *Report) integrityChart() chart {
	in := r.Integrity
	full := in.InPeriod - in.Pruned
	rows := []rowSpec{
		{label: "entries with payload", segs: []seg{{float64(full), "ok"}}, value: strconv.FormatUint(full, 10)},
		{label: "pruned (leaf only)", segs: []seg{{float64(in.Pruned), "warn"}}, value: strconv.FormatUint(in.Pruned, 10)},
		{label: "subject shredded", segs: []seg{{float64(in.Shredded), "warn"}}, value: strconv.FormatUint(in.Shredded, 10)},
		{label: "integrity failures", segs: []seg{{float64(len(in.Failures)), "bad"}}, value: strconv.Itoa(len(in.Failures))},
		{label: "breaches to assess", segs: []seg{{float64(len(in.Breaches)), "bad"}}, value: strconv.Itoa(len(in.Breaches))},
	}
	return newChart("Audit entries of the period", rows, 0, false,
		[]legendItem{{0, "ok", "verified, readable"}, {150, "warn", "verified, payload gone"}, {300, "bad", "incident"}}, nil)
}
