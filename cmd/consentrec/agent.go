package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

func init() {
	register(&command{name: "agent ack", args: "AGENT --notice FILE --data DIR",
		short: "record that AGENT acknowledged the employee notice FILE (version: its SHA-256; audited, R19)",
		run:   cmdAgentAck})
	register(&command{name: "agent list", args: "[--notice FILE] --data DIR",
		short: "list the agents' notice acknowledgements; with --notice, exit 1 if one has not acknowledged that version",
		run:   cmdAgentList})
}

// noticeVersion returns the SHA-256 of the file at path, the version of an
// employee notice (as sha256sum prints it, like prompts' versions).
func noticeVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", usagef("--notice: %v", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("--notice %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cmdAgentAck records an acknowledgement: the audit event first, then the
// line in DIR/agent-notices.jsonl. The recorder of the acknowledgement is
// the operating-system user running the command, never a flag.
func cmdAgentAck(e *env, args []string) (err error) {
	fs := flag.NewFlagSet("agent ack", flag.ContinueOnError)
	data := dataFlag(fs)
	noticeFile := fs.String("notice", "", "the employee notice `FILE` the agent read (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one AGENT id")
	}
	if *noticeFile == "" {
		return usagef("--notice FILE is required: the acknowledgement names the notice's version")
	}
	version, err := noticeVersion(*noticeFile)
	if err != nil {
		return err
	}
	ack := policy.Ack{Agent: pos[0], Version: version, At: time.Now().UTC(), By: whoami("")}
	if err := ack.Validate(); err != nil {
		return usagef("%v", err)
	}
	ctx := context.Background()
	log, err := openAuditLog(ctx, *data)
	if err != nil {
		return fmt.Errorf("audit log: %w (nothing recorded)", err)
	}
	defer func() { err = errors.Join(err, log.Close()) }()
	notices, err := policy.OpenAgentNoticeFile(consentrec.DataDir{Root: *data}.AgentNotices(), log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, notices.Close()) }()
	if err := notices.Acknowledge(ctx, ack); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "agent %s acknowledged the employee notice %s (version %s) at %s, recorded by %s\n",
		ack.Agent, *noticeFile, ack.Version, ack.At.Format(time.RFC3339), ack.By)
	return nil
}

func cmdAgentList(e *env, args []string) (err error) {
	fs := flag.NewFlagSet("agent list", flag.ContinueOnError)
	data := dataFlag(fs)
	noticeFile := fs.String("notice", "", "the employee notice `FILE` in force: mark who acknowledged another version")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	current := ""
	if *noticeFile != "" {
		if current, err = noticeVersion(*noticeFile); err != nil {
			return err
		}
	}
	path := consentrec.DataDir{Root: *data}.AgentNotices()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(e.stdout, "no agent has acknowledged an employee notice")
		if current != "" {
			return errors.New("no agent has acknowledged the notice in force (R19)")
		}
		return nil
	}
	// No acknowledgement is written through this handle (opening it only
	// trims a torn last line), hence no audit log.
	notices, err := policy.OpenAgentNoticeFile(path, audit.Discard)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, notices.Close()) }()
	acks, err := notices.List(context.Background())
	if err != nil {
		return err
	}
	outdated := 0
	for _, a := range acks {
		mark := ""
		if current != "" {
			if a.Version == current {
				mark = "  current"
			} else {
				mark = "  OUTDATED: must acknowledge the notice in force"
				outdated++
			}
		}
		fmt.Fprintf(e.stdout, "%s  version %s  at %s  by %s%s\n", a.Agent, a.Version, a.At.Format(time.RFC3339), a.By, mark)
	}
	if outdated > 0 {
		return fmt.Errorf("%d of %d agents have not acknowledged the notice in force (R19): their calls are not recorded", outdated, len(acks))
	}
	return nil
}
