// Package audit keeps a hash-chained, tamper-evident log of every step of a
// call's and a recording's life: policy decisions, notices played, consent and
// objections, recording control, accesses, deletions and legal holds.
package audit
