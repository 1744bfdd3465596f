package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/notice"
)

func init() {
	register(&command{name: "notice inspect", args: "[--json] FILE...",
		short: "show a notice prompt's version (SHA-256), format and duration", run: noticeInspect})
}

type promptInfo struct {
	File       string  `json:"file"`
	Format     string  `json:"format"`
	Version    string  `json:"version"`
	Duration   float64 `json:"duration_s"`
	SampleRate int     `json:"sample_rate"`
	Error      string  `json:"error,omitempty"`
}

// noticeInspect prints what a notice receipt will name: the prompt's
// version is the SHA-256 of its file, the same as sha256sum prints.
func noticeInspect(e *env, args []string) error {
	fs := flag.NewFlagSet("notice inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no prompt file")
	}
	for _, f := range files { // a missing input is a usage error (exit 2)
		in, err := openInput(f)
		if err != nil {
			return err
		}
		in.Close()
	}
	var failed error
	for _, f := range files {
		info := promptInfo{File: f}
		p, err := notice.LoadFile(f)
		if err != nil {
			info.Error = err.Error()
			failed = errors.Join(failed, err)
		} else {
			info.Format, info.Version = string(p.Format()), p.Version()
			info.Duration, info.SampleRate = p.Duration().Seconds(), p.SampleRate()
		}
		if *asJSON {
			b, _ := json.Marshal(info)
			fmt.Fprintln(e.stdout, string(b))
			continue
		}
		if info.Error != "" {
			fmt.Fprintf(e.stderr, "%s: %s\n", f, info.Error)
			continue
		}
		fmt.Fprintf(e.stdout, "%s  %s  %-8s %6d Hz  %v\n", info.Version, f, info.Format, info.SampleRate,
			p.Duration().Round(time.Millisecond))
	}
	if failed != nil {
		return fmt.Errorf("%d of %d prompts could not be loaded", countErrs(failed), len(files))
	}
	return nil
}

func countErrs(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}
