package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
)

// parseNoArgs is parseFlags for a command that takes flags only: a
// positional argument is a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	return nil
}

// parseFlags parses fs from args, allowing flags before, between and after
// positional arguments (consentrec policy simulate FILE --calls 100), and
// returns the positional arguments. Errors are usage errors.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpError{fs}
			}
			// The flag package names flags with one dash; the CLI's
			// usage lines use two.
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = "unknown flag: --" + name
				if len(name) == 1 {
					msg = "unknown flag: -" + name
				}
			}
			return nil, usagef("%s", msg)
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

// defaultData is the one default data directory, used only when neither
// --data nor $CONSENTREC_DATA is given.
const defaultData = "./consentrec-data"

// dataFlag registers the --data flag every stateful command shares. The
// default is $CONSENTREC_DATA, else ./consentrec-data; the help says so
// whatever the environment holds.
func dataFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("CONSENTREC_DATA")
	if def == "" {
		def = defaultData
	}
	p := new(string)
	fs.StringVar(p, "data", "", "data `DIR` (audit log, recordings, catalog); default $CONSENTREC_DATA, else "+defaultData)
	*p = def
	return p
}

// openInput opens an input file named on the command line. A file that
// does not exist, or a directory, is a usage error (exit 2), the same for
// every command; other failures (permissions) are problems (exit 1).
func openInput(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("%s: no such file", path)
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, usagef("%s is a directory, want a file", path)
	}
	return os.Open(path)
}

// newOutput checks, before any work is done, that path may be created: it
// must not exist (the CLI never overwrites) and its folder must. Errors
// are problems (exit 1), and path is left untouched.
func newOutput(path string) error {
	st, err := os.Lstat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%s is a directory: give the path of a new file", path)
	case err == nil:
		return fmt.Errorf("%s already exists: the CLI never overwrites a file (remove it or choose another name)", path)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: folder %s does not exist", path, filepath.Dir(path))
	}
	return nil
}

// isTerminal reports whether w is a terminal. Tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// binaryOut is where a command writing binary data (audio) sends it: out
// names a new file, "-" forces standard output, "" means standard output
// unless it is a terminal, which is refused (exit 2) before anything is
// read or audited.
func binaryOut(e *env, out, flagName string) (toStdout bool, err error) {
	switch out {
	case "-":
		return true, nil
	case "":
		if isTerminal(e.stdout) {
			return false, usagef("refusing to write binary audio to a terminal: give %s FILE, or %s - to force standard output", flagName, flagName)
		}
		return true, nil
	}
	return false, newOutput(out)
}
