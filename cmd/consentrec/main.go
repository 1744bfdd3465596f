// Command consentrec is the operator CLI of the consentrec library: check and
// simulate recording policies, verify the audit log, inspect and export
// recordings, sweep expired ones, manage legal holds and subject requests.
//
// Install it with
//
//	go install github.com/consentrec/consentrec/cmd/consentrec@latest
//
// Every command that reads stored state takes --data DIR, the same data
// directory the library and the quickstart write to. Without --data it uses
// $CONSENTREC_DATA, else ./consentrec-data (in the current directory): that
// is the one default location, and only used when --data is absent.
//
// Exit status, the same for every command: 0 on success, 1 when the command
// ran but refused or found a problem (a policy refused, a log that does not
// verify, an output file that exists), 2 on usage errors, including input
// files or a data directory that do not exist.
//
// `consentrec help COMMAND` and `consentrec COMMAND --help` print a command's
// usage; `consentrec completion SHELL` prints a shell completion script;
// `consentrec version` prints the module version.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// command is one sub-command. Each file of this package registers its own
// commands in an init function, so that features stay in their own files.
//
// run must parse its flags with parseFlags before it does anything else:
// `COMMAND --help` runs it with "-h", and the usage it prints comes from the
// flag set parseFlags saw.
type command struct {
	name  string // e.g. "policy check"; words before the last one form groups
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

// helpError is what parseFlags returns for -h, -help or --help: the
// dispatcher prints the command's usage with the flags of fs, and exits 0.
type helpError struct{ fs *flag.FlagSet }

func (*helpError) Error() string { return "help requested" }

// cmdError is an error a registered command returned.
type cmdError struct {
	c   *command
	err error
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// groupShort describes the command groups; a group not listed here (added
// by a new file) lists its sub-commands instead.
var groupShort = map[string]string{
	"audit":   "verify, show, prove, check and prune the audit log; print its verifier key",
	"hold":    "place and release legal holds",
	"keys":    "manage age keys and encrypted recordings",
	"notice":  "inspect notice prompts",
	"policy":  "check a recording policy, print its GDPR Art. 30 entry, simulate it",
	"subject": "find, export and erase a data subject's recordings (GDPR Art. 15, 17)",
}

const rootLong = `consentrec is the operator CLI of the consentrec library: check and simulate
recording policies, verify the audit log, inspect and export recordings, sweep
expired ones, manage legal holds and data subjects' requests.

Data: commands reading stored state take --data DIR. Without --data they use
$CONSENTREC_DATA, else ./consentrec-data in the current directory.

Exit status: 0 success, 1 refused or a problem found, 2 usage error
(including input files or a data directory that do not exist).

Output: nothing binary is written to a terminal; give --out FILE, or
--out - to force standard output.`

func main() {
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

// run dispatches args to a command and returns the exit status.
func run(e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(args)
	if args == nil {
		root.SetArgs([]string{})
	}
	found, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var ce *cmdError
	if !errors.As(err, &ce) {
		// Cobra's own: an unknown command or a bad flag of a group.
		path := "consentrec"
		if found != nil {
			path = found.CommandPath()
		}
		fmt.Fprintf(e.stderr, "%s: %s\n", path, err)
		fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", path)
		return 2
	}
	c := ce.c
	var he *helpError
	if errors.As(err, &he) {
		printHelp(e.stdout, c, he.fs)
		return 0
	}
	msg := trimPrefix(c.name, err.Error())
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "consentrec %s: %s\nusage: %s\nRun 'consentrec %s --help' for details.\n", c.name, msg, usageLine(c), c.name)
		return 2
	}
	fmt.Fprintf(e.stderr, "consentrec %s: %s\n", c.name, msg)
	return 1
}

// usageLine is "consentrec NAME ARGS".
func usageLine(c *command) string {
	return strings.TrimSpace("consentrec " + c.name + " " + c.args)
}

// trimPrefix drops what would repeat the "consentrec NAME: " prefix from an
// error message: the command's name, or one of its words ("open: access
// denied" from the open command, "audit: ..." from audit verify), followed
// by ": ", or by " " and an argument and ":" ("open rec-1: ...").
func trimPrefix(name, msg string) string {
	for _, p := range append([]string{name}, strings.Fields(name)...) {
		if rest, ok := strings.CutPrefix(msg, p+": "); ok {
			return rest
		}
		// "open rec-1: ..." from the open command: keep "rec-1: ...".
		if rest, ok := strings.CutPrefix(msg, p+" "); ok {
			if arg, _, ok := strings.Cut(rest, " "); ok && strings.HasSuffix(arg, ":") {
				return rest
			}
		}
	}
	return msg
}

// newRoot builds the command tree from the registered commands: "audit
// verify" becomes the group "audit" holding "verify". Leaves parse their
// own flags (DisableFlagParsing), with the std flag package.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:                        "consentrec",
		Short:                      "operator CLI of the consentrec library",
		Long:                       rootLong,
		Version:                    version(),
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true,
		SilenceUsage:               true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("consentrec {{.Version}}\n")
	root.Flags().BoolP("version", "v", false, "print the version of consentrec")
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpCommand(helpCommand(e))
	root.CompletionOptions.HiddenDefaultCmd = false

	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	nodes := map[string]*cobra.Command{"": root}
	var node func(path []string) *cobra.Command
	node = func(path []string) *cobra.Command {
		key := strings.Join(path, " ")
		if n, ok := nodes[key]; ok {
			return n
		}
		parent := node(path[:len(path)-1])
		n := &cobra.Command{Use: path[len(path)-1], SuggestionsMinimumDistance: 2}
		nodes[key] = n
		parent.AddCommand(n)
		return n
	}
	for _, name := range names {
		c := commands[name]
		n := node(strings.Fields(name))
		n.Use = strings.TrimSpace(n.Use + " " + c.args)
		n.Short = c.short
		n.DisableFlagParsing = true
		n.RunE = func(_ *cobra.Command, args []string) error {
			if err := c.run(e, args); err != nil {
				return &cmdError{c, err}
			}
			return nil
		}
		n.SetHelpFunc(func(*cobra.Command, []string) { leafHelp(e, c) })
	}
	// Groups: no Run of their own. Alone they print their help (exit 0);
	// with an unknown sub-command they name it and suggest the nearest.
	for key, n := range nodes {
		if key == "" || n.RunE != nil {
			continue
		}
		if s, ok := groupShort[key]; ok {
			n.Short = s
		} else {
			var subs []string
			for _, s := range n.Commands() {
				subs = append(subs, s.Name())
			}
			n.Short = key + " commands: " + strings.Join(subs, ", ")
		}
		n.Args = cobra.ArbitraryArgs
		n.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		}
	}
	return root
}

// unknownCommand is the error for an unknown sub-command of cmd, with the
// nearest names.
func unknownCommand(cmd *cobra.Command, name string) error {
	return fmt.Errorf("unknown command %q for %q%s", name, cmd.CommandPath(), suggest(cmd, name))
}

// suggest lists the sub-commands of cmd nearest to name, if any.
func suggest(cmd *cobra.Command, name string) string {
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		return "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	return ""
}

// usageTemplate is cobra's, shorter: a group's usage names COMMAND only.
const usageTemplate = `Usage:{{if .HasAvailableSubCommands}}
  {{.CommandPath}} COMMAND{{else}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} COMMAND --help" for more information about a command.{{end}}
`

func unknownTopic(cmd *cobra.Command, name string) error {
	return fmt.Errorf("unknown help topic %q%s", strings.TrimSpace(cmd.CommandPath() + " " + name)[len("consentrec "):], suggest(cmd, name))
}

// helpCommand is `consentrec help [COMMAND]`: the help of a group or a
// command, or a usage error naming the nearest command.
func helpCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "help about any command",
		Long:  "Help prints the usage of any command or group, e.g. consentrec help audit verify.",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || target == nil {
				return unknownTopic(cmd.Root(), args[0])
			}
			if len(rest) > 0 && target.HasSubCommands() {
				return unknownTopic(target, rest[0])
			}
			target.InitDefaultHelpFlag() // as cobra does before running a command
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// leafHelp prints a command's help: its run is asked for its flags with -h
// (parseFlags returns before anything is done).
func leafHelp(e *env, c *command) {
	var he *helpError
	if err := c.run(&env{stdout: io.Discard, stderr: io.Discard}, []string{"-h"}); errors.As(err, &he) {
		printHelp(e.stdout, c, he.fs)
		return
	}
	printHelp(e.stdout, c, nil)
}

// printHelp prints a command's usage, and its flags as --name ARG.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nusage: %s\n", c.short, usageLine(c))
	if fs == nil {
		return
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nflags:\n")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
