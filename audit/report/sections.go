package report

import "time"

// KeyCount is a count per key.
type KeyCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Bucket is one bar of a histogram.
type Bucket struct {
	Label string `json:"label"`
	Count int    `json:"count"`
	Bad   bool   `json:"bad,omitempty"` // beyond the allowed limit
}

// Sampling is section 1: who was recorded, against the policy.
type Sampling struct {
	// Decided counts the calls whose first decision falls in the period;
	// Selected those a decision selected for recording; Recorded those
	// with a recording started. Share is Recorded of Decided.
	Decided  int   `json:"decided"`
	Selected int   `json:"selected"`
	Recorded int   `json:"recorded"`
	Share    Share `json:"share"`
	// RecordedWithoutDecision counts calls recorded in the period with no
	// decision in the log (R3 wants each decision logged).
	RecordedWithoutDecision int `json:"recorded_without_decision"`
	// PrunedDecisions counts decision entries of the period whose payload
	// was pruned: not counted above, not missing either.
	PrunedDecisions uint64       `json:"pruned_decisions"`
	Versions        []VersionRow `json:"policy_versions"`
	Rules           []RuleRow    `json:"rules"`
	Months          []GroupRow   `json:"months"`
	Agents          []GroupRow   `json:"agents"`
	Purposes        []GroupRow   `json:"purposes"`
	// Flagged lists the agents recorded on nearly every call: the lower
	// bound of their recorded share exceeds Options.NearSystematic.
	Flagged       []string  `json:"flagged_agents"`
	PolicyChanges []Finding `json:"policy_changes"`
}

// GroupRow is the sampling of one month, agent or purpose.
type GroupRow struct {
	Key      string `json:"key"`
	Decided  int    `json:"decided"`
	Selected int    `json:"selected"`
	Recorded int    `json:"recorded"`
	Share    Share  `json:"share"` // Recorded of Decided
	Flagged  bool   `json:"flagged,omitempty"`
}

// VersionRow is one policy version seen in the period's decisions.
type VersionRow struct {
	Version  string    `json:"version"`
	Decided  int       `json:"decided"`
	Recorded int       `json:"recorded"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// RuleRow is one rule of one policy version: what it promises (Target) and
// what the log shows.
type RuleRow struct {
	PolicyVersion string  `json:"policy_version"`
	Purpose       string  `json:"purpose"`
	Mode          string  `json:"mode"`
	Rule          string  `json:"rule"`   // the rule's index, "(unknown)" when not logged
	Target        string  `json:"target"` // "rate 10 %, cap 100 per day", "5 per agent per week", ...
	Rate          float64 `json:"rate,omitempty"`
	Decided       int     `json:"decided"`
	Selected      int     `json:"selected"`
	Recorded      int     `json:"recorded"`
	// Drawn counts the calls whose sampling draw fell under the rate
	// (sampled, or sampled but over the cap); DrawShare is Drawn of
	// Decided, to compare with Rate.
	Drawn     int   `json:"drawn"`
	DrawShare Share `json:"draw_share"`
	Share     Share `json:"share"` // Recorded of Decided
	// Consistent reports, for a sampling rule with a known rate, whether
	// the rate lies within DrawShare's 95 % interval.
	Consistent *bool `json:"consistent_with_rate,omitempty"`
	// Overruns lists the calendar windows (in the policy's time zone when
	// Options.Policy names one, else UTC) in which the rule selected more
	// calls than its cap, or than its grid for one agent.
	Overruns []string `json:"overruns"`
}

// Notices is section 2: information, consent and objection.
type Notices struct {
	Played        int        `json:"played"`
	Completed     int        `json:"completed"`
	Interrupted   int        `json:"interrupted"`
	Interruptions []KeyCount `json:"interruptions"` // by cause
	Consents      int        `json:"consents"`
	Objections    int        `json:"objections"`
	// Of the objections: every recording of the call purged after it;
	// recording continues lawfully (statute); evidence possibly pruned;
	// not honoured (each a violation).
	Honoured      int `json:"honoured"`
	NotApplicable int `json:"not_applicable"`
	Uncheckable   int `json:"uncheckable"`
	NotHonoured   int `json:"not_honoured"`
	// Checked counts the requirements (a notice, a consent) checked before
	// the first recording of each call recorded in the period;
	// CaptureUncheckable those whose evidence may have been pruned.
	Checked            int            `json:"checked_before_capture"`
	CaptureUncheckable int            `json:"uncheckable_before_capture"`
	Pruned             uint64         `json:"pruned"` // notice, consent and objection entries pruned
	List               []ObjectionRow `json:"objection_list"`
}

// ObjectionRow is one objection and what followed.
type ObjectionRow struct {
	Time       time.Time `json:"time"`
	Index      uint64    `json:"index"`
	CallID     string    `json:"call_id"`
	Method     string    `json:"method,omitempty"`
	Recordings int       `json:"recordings"` // recordings of the call
	Purged     int       `json:"purged"`     // of those, purged after the objection
	Outcome    string    `json:"outcome"`    // honoured, not-applicable, uncheckable, not-honoured
}

// Retention is section 3: recordings kept, deleted, held.
type Retention struct {
	Catalog    bool     `json:"catalog"`    // a catalog was read
	Catalogued int      `json:"catalogued"` // recordings in it
	AgeBuckets []string `json:"age_buckets"`
	ByPurpose  []AgeRow `json:"by_purpose"`
	Deleted    int      `json:"deleted"` // deleted at expiry in the period
	Erased     int      `json:"erased"`  // erased on a subject's request
	Late       int      `json:"late"`    // deleted more than Grace after the deadline
	GraceSecs  float64  `json:"grace_seconds"`
	Lateness   []Bucket `json:"lateness"` // histogram of expiry deletions
	// PastDeadline lists recordings still catalogued more than Grace past
	// their deadline and not held (each a violation).
	PastDeadline []RecordingRow `json:"past_deadline"`
	Holds        []HoldRow      `json:"holds"` // open legal holds
	HoldsSet     int            `json:"holds_set"`
	HoldsRelease int            `json:"holds_released"`
	Overdue      []Finding      `json:"overdue_alarms"` // alarms the sweeper logged
	Pruned       uint64         `json:"pruned"`         // deletion and hold entries pruned
}

// AgeRow counts one purpose's catalogued recordings by age.
type AgeRow struct {
	Purpose      string `json:"purpose"`
	Count        int    `json:"count"`
	Ages         []int  `json:"ages"` // per AgeBuckets
	Held         int    `json:"held"`
	PastDeadline int    `json:"past_deadline"`
}

// RecordingRow is one catalogued recording.
type RecordingRow struct {
	RecordingID string    `json:"recording_id"`
	CallID      string    `json:"call_id"`
	Purpose     string    `json:"purpose"`
	Created     time.Time `json:"created"`
	Deadline    time.Time `json:"deadline"`
	Deletion    string    `json:"deletion,omitempty"`
}

// HoldRow is one open legal hold.
type HoldRow struct {
	RecordingID string    `json:"recording_id"`
	CallID      string    `json:"call_id"`
	Purpose     string    `json:"purpose"`
	Case        string    `json:"case"`
	Approver    string    `json:"approver"`
	Since       time.Time `json:"since"`
	AgeDays     int       `json:"age_days"`
	Deadline    time.Time `json:"deadline"`
}

// Access is section 4: who opened what, and why.
type Access struct {
	Granted      int           `json:"granted"`
	Denied       int           `json:"denied"`
	OutsideRoles int           `json:"outside_roles"` // granted outside the purpose's roles (violations)
	ByRole       []AccessCount `json:"by_role"`
	ByPerson     []AccessCount `json:"by_person"`
	Openings     []AccessRow   `json:"openings"`
	Refusals     []AccessRow   `json:"refusals"`
	Pruned       uint64        `json:"pruned"`
}

// AccessCount counts the accesses of one role or person.
type AccessCount struct {
	Key     string `json:"key"`
	Granted int    `json:"granted"`
	Denied  int    `json:"denied"`
}

// AccessRow is one access or refusal.
type AccessRow struct {
	Time        time.Time `json:"time"`
	Index       uint64    `json:"index"`
	Actor       string    `json:"actor"`
	Role        string    `json:"role"`
	RecordingID string    `json:"recording_id"`
	CallID      string    `json:"call_id,omitempty"`
	Purpose     string    `json:"purpose,omitempty"`
	Action      string    `json:"action"`
	Reason      string    `json:"reason"`
	WithinRoles bool      `json:"within_roles"`
	Why         string    `json:"why,omitempty"` // why it was refused
}

// Pauses is section 5: card-data pauses.
type Pauses struct {
	MaxPauseSecs float64    `json:"max_pause_seconds"`
	Pauses       int        `json:"pauses"`
	Calls        int        `json:"calls"`
	TooLong      int        `json:"too_long"`     // longer than MaxPause (violations)
	AutoResumed  int        `json:"auto_resumed"` // resumed by the recorder at MaxPause
	Open         int        `json:"open"`         // no resume or stop in the log (yet)
	Lengths      []Bucket   `json:"lengths"`
	PerCall      []PauseRow `json:"per_call"`
	Pruned       uint64     `json:"pruned"`
}

// PauseRow sums up the pauses of one recording.
type PauseRow struct {
	CallID       string  `json:"call_id"`
	RecordingID  string  `json:"recording_id"`
	Pauses       int     `json:"pauses"`
	TotalSecs    float64 `json:"total_seconds"`
	LongestSecs  float64 `json:"longest_seconds"`
	Exceeded     bool    `json:"exceeded,omitempty"`
	AutoResumed  bool    `json:"auto_resumed,omitempty"`
	OpenAtReport bool    `json:"open,omitempty"`
}
