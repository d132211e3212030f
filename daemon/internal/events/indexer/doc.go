// Package indexer feeds the store's events index from the event journal: a
// journal consumer named "index" that hands batches to an Index and prunes
// entries past their retention. Indexing is idempotent on Seq, so the
// at-least-once redelivery of the journal is harmless here.
package indexer
