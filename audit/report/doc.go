// Package report answers, from the signed audit log and the recordings
// catalog, the questions a data-protection officer or an inspector asks
// first: what share of calls was recorded, per month, agent and purpose,
// against the policy; was every objection honoured; was every recording
// deleted on time; who opened what, and why; were card-data pauses kept
// short; does the log itself verify.
//
// Build first verifies the log (against its signed checkpoint) and reports
// only on the entries it verified, naming the tree root it reports on. A log
// that does not verify gives a report that says so, and ErrUnverified. It
// then reads every verified entry once, in order, and the catalog once.
//
// The report has six sections, each a table and a plot:
//
//  1. Sampling: calls decided, selected and recorded; the share recorded per
//     month, agent, purpose and rule with its 95 % Wilson interval, against
//     the rate the decision entries carry, with the calendar windows in
//     which a rule selected more than its cap or grid; agents recorded on
//     (nearly) every call are flagged.
//  2. Notices: prompts played (completed or interrupted), consents and
//     objections; an objection not followed by the purge of every recording
//     of the call is a violation (R15), unless the statute applies; so is a
//     recording begun before the completed notice (R14) or, under opt-in
//     profiles, before the caller's consent (R16) its decision required.
//  3. Retention: recordings by purpose and age, deletions and their
//     lateness (a deletion later than the grace period is a violation, R13),
//     recordings past their deadline and not held (a violation), open
//     legal holds.
//  4. Access: every opening by role and by person with its reason, the
//     refusals, and any opening outside the roles of the recording's purpose
//     (a violation, R25).
//  5. Pauses: card-data pauses per call and their lengths; a pause longer
//     than MaxPause is a violation (R22).
//  6. Integrity: the verifier's result, integrity failures (each a
//     violation, R27) and the events to assess as breaches (Art. 33).
//
// Pruned entries (the audit log's own retention, audit.Log.Prune) keep only
// their kind and time: they are counted as pruned, and a check whose evidence
// may have been pruned is reported as not checkable, never as a violation.
//
// The report renders as JSON (WriteJSON: stable keys sampling, notices,
// retention, access, pauses, integrity, violations), as text (WriteText), and
// as one self-contained HTML file (WriteHTML: inline CSS and SVG computed
// here, no script, nothing fetched), and sums up in one line (Summary).
//
// DirSource reads a data directory's log (verified on disk, read without
// opening it for writing, so a report can be made while the service runs);
// SaveHTML writes the page to a new file, never over an existing one. The
// command line is `consentrec report --data DIR`.
package report
