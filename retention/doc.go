// Package retention makes recordings disappear on time and lets only the
// right people open them (R9-R13, R25-R30).
//
//   - A [Catalog] knows every recording: id, call, purpose, lawful basis,
//     creation, a retention deadline fixed at creation ([New]: the
//     decision's, never beyond the purpose's maximum, R9-R11), the statute's
//     minimum for a recording kept under a legal obligation (KeepUntil, R11),
//     the policy's access roles, legal holds, the subject's keyed hash, the
//     file's SHA-256 and its gaps. It answers "expired before T" and "recordings of subject S"
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
//   - [Subjects] finds, exports (a folder or zip a person can open; of a
//     two-channel recording, the customer's voice only, R29) and erases a
//     data subject's recordings, refusing with the reason those held or
//     kept under a legal obligation.
//   - A [Destroyer] destroys one recording early on a person's word (a key
//     shredding, an early deletion): the catalog is asked first, and held or
//     legally kept recordings are refused, audited (R13, R30). Every
//     destructive path (Sweeper, Subjects, Destroyer) asks the catalog;
//     nothing should call Store.Delete on a catalogued recording directly.
//   - A [Gate] opens a recording for a principal the host's [Authorizer]
//     authenticates, whose granted role the purpose allows, narrowed by the
//     policy's access roles (deny by default, R25), with a reason, auditing
//     every access and refusal; it returns a reader, never a path.
//     [AccessTable] grants roles from a file (the CLI's access.json).
//
// Audio lives in a [Store] (recorder.Store satisfies it). Every action goes
// to an audit.Appender before it is reported done.
//
// Time: every component takes a Now func (nil: time.Now) and the sweeper's
// Run uses plain timers, so tests run it under testing/synctest.
package retention
