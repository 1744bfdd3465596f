// Command consentrec is the operator CLI of the consentrec library: check and
// simulate recording policies, verify the audit log, inspect and export
// recordings, sweep expired ones, manage legal holds and subject requests.
//
// Every command that reads stored state takes --data DIR, the same data
// directory the library and the quickstart write to.
//
// Exit status: 0 on success, 1 when the command ran but refused or found a
// problem (a policy refused, a log that does not verify), 2 on usage errors.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one sub-command. Each file of this package registers its own
// commands in an init function, so that features stay in their own files.
type command struct {
	name  string // e.g. "policy check"
	args  string // usage after the name, e.g. "FILE"
	short string // one line
	run   func(env *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("consentrec: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// env carries the process streams so that commands are testable in-process.
type env struct {
	stdout io.Writer
	stderr io.Writer
}

// usageError marks an error as a usage error (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func main() {
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

// run dispatches args to a command and returns the exit status.
func run(e *env, args []string) int {
	c, rest := lookup(args)
	if c == nil {
		if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(e.stderr, "consentrec: unknown command %q\n\n", strings.Join(args, " "))
		}
		usage(e.stderr)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	err := c.run(e, rest)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "consentrec %s: %v\nusage: consentrec %s %s\n", c.name, err, c.name, c.args)
		return 2
	}
	fmt.Fprintf(e.stderr, "consentrec %s: %v\n", c.name, err)
	return 1
}

// lookup finds the longest registered command name that prefixes args.
func lookup(args []string) (*command, []string) {
	for n := min(len(args), 3); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:]
		}
	}
	return nil, nil
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: consentrec COMMAND [ARGS]\n\nCommands reading stored state take --data DIR (default $CONSENTREC_DATA, else ./consentrec-data).\nExit status: 0 success, 1 refused or problem found, 2 usage error.\n\ncommands:")
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.args, c.short)
	}
}
