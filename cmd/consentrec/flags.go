package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
)

// parseFlags parses fs from args, allowing flags before, between and after
// positional arguments (consentrec policy simulate FILE --calls 100), and
// returns the positional arguments. Errors are usage errors.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("help requested")
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dataFlag registers the --data flag every stateful command shares. The
// default is $CONSENTREC_DATA, else ./consentrec-data.
func dataFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("CONSENTREC_DATA")
	if def == "" {
		def = filepath.Join(".", "consentrec-data")
	}
	return fs.String("data", def, "data `DIR` (audit log, recordings, catalog)")
}
