// Package prefetch asks the processor to start loading memory that will be
// read soon, without waiting for it: a reader that hands a batch of packets
// to thousands of streams first prefetches what each packet will touch, so
// that the cache misses of the batch overlap instead of following each
// other.
package prefetch
