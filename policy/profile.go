package policy

// Profile is a jurisdiction profile, applied per call (R33).
type Profile string

// Profiles.
const (
	ProfileUnknown     Profile = ""             // caller location unknown: the strictest applies (R33)
	ProfileFR          Profile = "FR"           // notice before recording + right to object
	ProfileDE          Profile = "DE"           // opt-in: nothing before an affirmative act (R16)
	ProfileUSAllParty  Profile = "US-all-party" // notice or consent of every party before recording
	ProfileUSOneParty  Profile = "US-one-party" // one party's consent (the business) suffices; notice still given
	ProfileUK          Profile = "UK"           // notice (IPA 2016 s.46)
	ProfileMiFID       Profile = "MiFID"        // legal obligation: objection does not stop it, caller informed
	ProfileFRInsurance Profile = "FR-insurance" // insurance canvassing: refusal ends the call (R18)
)
