package main

import (
	"flag"
	"fmt"
	"runtime/debug"
)

func init() {
	register(&command{name: "version", args: "",
		short: "print the version of consentrec (the module version it was built from)", run: cmdVersion})
}

func cmdVersion(e *env, args []string) error {
	pos, err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	fmt.Fprintf(e.stdout, "consentrec %s\n", version())
	return nil
}

// version is the module version from the build information: v0.1.0 when
// installed with go install ...@v0.1.0, a pseudo-version or "(devel)" for a
// build in a checkout (then with the commit, when the build recorded it).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	return formatVersion(bi, ok)
}

func formatVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "(unknown: no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if v == "(devel)" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " commit " + rev
		if modified == "true" {
			v += " (modified)"
		}
	}
	if bi.GoVersion != "" {
		v += ", " + bi.GoVersion
	}
	return v
}
