// Package telemetry provides SpaceTime's live telemetry stream: a WebSocket
// hub that reads the engine's published snapshots, encodes each subscribed
// topic once per tick and fans the same prepared frame out to every due
// subscriber, plus the matching client (the `spacetime telemetry` command),
// short-lived connection tickets for browsers, and a load benchmark.
//
// The engine never waits for the hub: [Hub.Run] polls a [SnapshotSource]
// (an atomic load) at the tick rate, phase-locked to the snapshots'
// publication times. Each subscriber owns a bounded send queue; when it is
// full the oldest frame is dropped and counted, and a subscriber that stays
// behind past a threshold is disconnected with close code [CloseTooSlow].
//
// Topics: perf, player, vr, bodies (small JSON plus compact binary
// position frames, see [EncodeBodiesFrame] and [DecodeBodiesFrame]) and
// events ([Hub.Publish]). The wire protocol is documented in
// docs/telemetry.md.
//
// Concurrency: one goroutine runs Run (or calls Step); every connection has
// a reader goroutine (the HTTP handler's) and a writer goroutine, all
// joined by Close. Exported methods are safe for concurrent use unless
// their comment says otherwise.
package telemetry
