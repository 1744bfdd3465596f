package report_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser, skipping the test when there is
// none, unless CONSENTREC_CI=1 (then a missing browser fails: a CI job whose
// browser did not install must not pass).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CONSENTREC_CI") == "1" {
		t.Fatal("chromium not installed and CONSENTREC_CI=1 (Debian package chromium; .ci/run installs it)")
	}
	t.Skip("chromium not installed (Debian package chromium; .ci/run installs it): skipping the browser check of the HTML report")
	return ""
}

// consoleLine matches what Chromium prints for each console message with
// --enable-logging=stderr --v=0, whatever its level.
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d+\)?\] "([^\n]*)`)

// runChromium runs a headless Chromium on the page with args and returns
// stdout and the console messages it logged.
func runChromium(t *testing.T, browser, page string, args ...string) (stdout []byte, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, args...)
	all = append(all, "file://"+page)
	cmd := exec.CommandContext(ctx, browser, all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	for _, m := range consoleLine.FindAllStringSubmatch(errb.String(), -1) {
		console = append(console, m[1])
	}
	return out.Bytes(), console
}

// TestHTMLInChromium opens the report of an eventful month in headless
// Chromium: the page logs nothing to the console (it has no script, so any
// message is an error: a refused resource, a parse problem), each section's
// plot is in the DOM the browser built, and the screenshot shows the plots'
// colours. The screenshot is kept (its path is logged).
func TestHTMLInChromium(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()

	// The detector itself: a page that logs an error is caught.
	bad := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><p>x<script>console.error("deliberate")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, console := runChromium(t, browser, bad, "--dump-dom"); len(console) == 0 || !strings.Contains(console[0], "deliberate") {
		t.Fatalf("the console detector missed a deliberate error: %q", console)
	}

	rep := goldenReport(t)
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, console := runChromium(t, browser, page, "--dump-dom")
	if len(console) > 0 {
		t.Errorf("console messages: %q", console)
	}
	// The DOM as the browser parsed it: every section holds an <svg> with
	// bars, and the escaped call id is text, not an element.
	d := string(dom)
	for _, id := range []string{"violations", "sampling", "notices", "retention", "access", "pauses", "integrity"} {
		i := strings.Index(d, `<section id="`+id+`"`)
		if i < 0 {
			t.Errorf("section %s missing from the DOM", id)
			continue
		}
		sec := d[i:]
		sec = sec[:strings.Index(sec, "</section>")]
		if id != "violations" && (!strings.Contains(sec, "<svg") || strings.Count(sec, "<rect") < 3) {
			t.Errorf("section %s: no plot in the DOM", id)
		}
	}
	if strings.Contains(d, "<obj>") || !strings.Contains(d, "rec-&lt;obj&gt;&amp;") {
		t.Error("an id from the log became markup in the browser's DOM")
	}

	shotDir := os.Getenv("CONSENTREC_ARTIFACTS")
	if shotDir == "" {
		shotDir = os.TempDir()
	}
	shot := filepath.Join(shotDir, "consentrec-report-screenshot.png")
	_, console = runChromium(t, browser, page, "--screenshot="+shot, "--window-size=1200,4800", "--hide-scrollbars")
	if len(console) > 0 {
		t.Errorf("console messages: %q", console)
	}
	t0 := time.Now()
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != 1200 || sz.Y != 4800 {
		t.Errorf("screenshot %v", sz)
	}
	// The plots' fills are on screen: green bars (#2f7d4f), red ones for
	// violations (#c0392b) and the header's navy (#1d2a44).
	want := map[string]color.RGBA{"green bars": {0x2f, 0x7d, 0x4f, 255}, "red bars": {0xc0, 0x39, 0x2b, 255},
		"header": {0x1d, 0x2a, 0x44, 255}}
	counts := countColors(img, want)
	for name, c := range want {
		if counts[name] < 200 {
			t.Errorf("%s: %d pixels of %v in the screenshot", name, counts[name], c)
		}
	}
	t.Logf("screenshot kept: %s (checked in %v)", shot, time.Since(t0).Round(time.Millisecond))
}

// countColors counts, in one pass, the pixels within ±3 of each colour.
func countColors(img image.Image, want map[string]color.RGBA) map[string]int {
	rgba, ok := img.(*image.RGBA)
	if !ok { // Chromium writes 8-bit RGBA PNGs; convert anything else
		rgba = image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	}
	names := make([]string, 0, len(want))
	cols := make([]color.RGBA, 0, len(want))
	for name, c := range want {
		names, cols = append(names, name), append(cols, c)
	}
	counts := make([]int, len(cols))
	pix := rgba.Pix
	for i := 0; i+3 < len(pix); i += 4 {
		r, g, b := int(pix[i]), int(pix[i+1]), int(pix[i+2])
		for j, c := range cols {
			if abs(r-int(c.R)) <= 3 && abs(g-int(c.G)) <= 3 && abs(b-int(c.B)) <= 3 {
				counts[j]++
			}
		}
	}
	n := map[string]int{}
	for j, name := range names {
		n[name] = counts[j]
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
