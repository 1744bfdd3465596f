// Package policy decides, for every call, whether it may be recorded, for
// which purpose, for how long, and what the caller must be told first.
//
// Privacy by default: the zero [Policy] records nothing. Systematic recording
// (every call) is refused unless the purpose is [LegalObligation] and the
// policy names its statute.
package policy
