package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"
)

//go:embed report.html.tmpl
var htmlText string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"ts":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"pct":  func(v float64) string { return pctNum(v) },
	"secs": func(s float64) string { return humanDuration(time.Duration(s * float64(time.Second))) },
	"idx": func(i *uint64) string {
		if i == nil {
			return "catalog"
		}
		return strconv.FormatUint(*i, 10)
	},
	"share": func(s Share) string { return s.String() },
	"deref": func(b *bool) bool { return b != nil && *b },
	"consistent": func(b *bool) string {
		switch {
		case b == nil:
			return "–"
		case *b:
			return "yes"
		}
		return "NO"
	},
	"limit": func(n int, rows any) any { return limitRows(n, rows) },
	"more": func(n int, total int) string {
		if total <= n {
			return ""
		}
		return fmt.Sprintf("%d more rows in the JSON output (--json).", total-n)
	},
}).Parse(htmlText))

// maxHTMLRows bounds the long lists (openings, refusals, pauses, objections)
// in the HTML; the JSON holds them all.
const maxHTMLRows = 500

func limitRows(n int, rows any) any {
	switch r := rows.(type) {
	case []AccessRow:
		return r[:min(n, len(r))]
	case []PauseRow:
		return r[:min(n, len(r))]
	case []ObjectionRow:
		return r[:min(n, len(r))]
	case []Violation:
		return r[:min(n, len(r))]
	}
	return rows
}

type htmlData struct {
	*Report
	Summary    string
	PeriodText string
	MaxRows    int
	Charts     map[string]chart
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS,
// one SVG plot per section drawn here, no script, nothing fetched, so that
// it opens offline and can be archived as evidence. Every value from the
// log is escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	d := htmlData{Report: r, Summary: r.Summary(), PeriodText: r.Period.String(), MaxRows: maxHTMLRows}
	if r.Integrity.Verified {
		d.Charts = map[string]chart{
			"sampling":  r.samplingChart(),
			"notices":   r.noticesChart(),
			"lateness":  r.latenessChart(),
			"ages":      r.ageChart(),
			"access":    r.accessChart(),
			"pauses":    r.pausesChart(),
			"integrity": r.integrityChart(),
		}
	}
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, d); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}
