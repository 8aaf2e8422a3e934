// Package audit records who did what to the API, with which result and
// when, and keeps those records safely on disk.
//
// A Logger takes Records from request goroutines without blocking them for
// long: Record puts the record on a bounded queue and returns; when the queue
// is full it waits at most Options.EnqueueWait and then drops the record,
// counting the drop (Stats, Dropped) and logging a warning once per episode
// of overflow. One writer goroutine owned by the Logger drains the queue in
// batches into one or more Sinks. A failing sink keeps its records in a
// bounded retry buffer and is retried with exponential backoff while
// Healthy reports the failure; Close drains everything queued before it
// returns.
//
// FileSink writes JSON lines to <dir>/audit_<env>.log (mode 0600) with
// size-based rotation to .1, .2, ... and answers Query by scanning the
// current file and its backups, newest first. MemorySink keeps the most
// recent records in memory (tests, and a fallback while no file is wanted).
//
// Records never carry secrets: there is no field for headers, tokens or
// bodies, every string field is capped in length, and the JSON encoding
// escapes newlines and quotes, so one record is always one line.
package audit
