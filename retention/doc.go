// Package retention makes recordings disappear on time and lets only the
// right people open them (R9-R13, R25-R30).
//
//   - A [Catalog] knows every recording: id, call, purpose, lawful basis,
//     creation, a retention deadline fixed at creation from the purpose
//     ([New]), legal holds, the subject's keyed hash, the file's SHA-256 and
//     its gaps. It answers "expired before T" and "recordings of subject S"
//     from indexes, without reading a file. [MemCatalog] keeps it in memory;
//     package sqlitecatalog keeps it in one SQLite file (pure Go), the
//     embedded default at consentrec.DataDir.Catalog(). Programs using only
//     MemCatalog never link SQLite.
//   - A [Sweeper] deletes each recording at its deadline unless it is under
//     legal hold, audits each deletion with the file's SHA-256, raises an
//     alarm for any recording found late or that cannot be deleted, and can
//     dry-run (forecasting a future date). Killed mid-sweep, the next sweep
//     finishes the job: no orphan file, no orphan row, nothing held deleted.
//   - [Holds] sets and releases legal holds, each with a case reference and a
//     named approver; a hold blocks expiry and erasure.
//   - [Subjects] finds, exports (a folder or zip a person can open) and
//     erases a data subject's recordings, refusing with the reason those
//     held or kept under a legal obligation.
//   - A [Gate] opens a recording for a principal whose role the purpose
//     allows (deny by default), with a reason, auditing every access and
//     refusal; it returns a reader, never a path.
//
// Audio lives in a [Store] (recorder.Store satisfies it). Every action goes
// to an audit.Appender before it is reported done.
//
// Time: every component takes a Now func (nil: time.Now) and the sweeper's
// Run uses plain timers, so tests run it under testing/synctest.
package retention
