package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// browser is headless Chromium driven over the DevTools protocol through a
// pipe (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and
// 4), so the tests need no WebSocket client and no test code in the pages:
// the test hooks are injected into each page by the protocol.
type browser struct {
	cmd    *exec.Cmd
	in     *os.File // commands to Chromium (its fd 3)
	stderr *lockedBuffer
	exited chan struct{}

	mu      sync.Mutex
	next    int
	waiting map[int]chan cdpMessage
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tail(l.b.String())
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// startBrowser starts Chromium with a fake microphone reading mic; it is
// killed when the test ends.
func startBrowser(t *testing.T, chromium, mic string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{in: cmdW, stderr: &lockedBuffer{}, exited: make(chan struct{}), waiting: map[int]chan cdpMessage{}}
	b.cmd = exec.Command(chromium,
		"--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
		"--user-data-dir="+t.TempDir(),
		"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture="+mic,
		"--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection",
		"about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	outW.Close()
	go func() {
		r := bufio.NewReader(outR)
		for {
			line, err := r.ReadBytes(0)
			if err != nil {
				break
			}
			var m cdpMessage
			if json.Unmarshal(line[:len(line)-1], &m) != nil || m.ID == 0 {
				continue // events: the tests wait inside the pages instead
			}
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		b.in.Close()
		<-b.exited
		outR.Close()
	})
	return b
}

// call sends one command and decodes its result into out (when not nil).
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan cdpMessage, 1)
	b.mu.Lock()
	b.next++
	id := b.next
	b.waiting[id] = ch
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, Params: params, SessionID: session})
	if err == nil {
		_, err = b.in.Write(append(msg, 0))
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.exited:
		return fmt.Errorf("%s: chromium exited\n%s", method, b.stderr)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	}
}

// page is one tab.
type page struct {
	b       *browser
	session string
}

// open opens url in a new tab of width×height CSS pixels, with script
// evaluated in it before the page's own scripts.
func (b *browser) open(ctx context.Context, url, script string, width, height int) (*page, error) {
	var tgt struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &tgt); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	p := &page{b: b, session: att.SessionID}
	steps := []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Page.setBypassCSP", map[string]any{"enabled": true}}, // the pages' CSP forbids eval: the hooks are not theirs
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}},
		{"Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": script}},
		{"Page.navigate", map[string]any{"url": url}},
	}
	for _, s := range steps {
		if err := b.call(ctx, p.session, s.method, s.params, nil); err != nil {
			return nil, err
		}
	}
	// Wait for the page's load event (an evaluation still in about:blank
	// fails when its context goes away: try again).
	for {
		var ok bool
		err := p.eval(ctx, `new Promise((r) => { if (location.protocol === "about:") return;
			if (document.readyState === "complete") r(true); else addEventListener("load", () => r(true)); })`, &ok)
		if err == nil && ok {
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("open %s: %w", url, context.Cause(ctx))
		}
	}
}

// errEval is a script's exception.
var errEval = errors.New("script failed")

// eval evaluates expr in the page, awaits it if it is a promise, and
// decodes its value into out (when not nil).
func (p *page) eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res); err != nil {
		return err
	}
	if res.Exception != nil {
		return fmt.Errorf("%w: %s %s", errEval, res.Exception.Text, res.Exception.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// key presses a key in the page (to the focused element), as a keyboard
// user would.
func (p *page) key(ctx context.Context, key string, code int) error {
	for _, typ := range []string{"keyDown", "keyUp"} {
		params := map[string]any{"type": typ, "key": key, "code": key, "windowsVirtualKeyCode": code}
		if typ == "keyDown" && key == "Enter" {
			params["text"] = "\r"
		}
		if err := p.b.call(ctx, p.session, "Input.dispatchKeyEvent", params, nil); err != nil {
			return err
		}
	}
	return nil
}

// screenshot writes a PNG of the page to path.
func (p *page) screenshot(ctx context.Context, path string) error {
	// A background tab draws no frames: bring it to the front first.
	if err := p.b.call(ctx, p.session, "Page.bringToFront", nil, nil); err != nil {
		return err
	}
	var res struct {
		Data string `json:"data"`
	}
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}
