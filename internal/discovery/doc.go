// Package discovery announces a running SpaceTime server on the local
// network and finds the ones that announce themselves.
//
// A [Sender] sends a JSON [Beacon] in one UDP datagram every interval
// (2 s by default) to a broadcast address (default 255.255.255.255:8087),
// a multicast group or a unicast address. A [Listener] receives beacons,
// checks them and keeps a table of live instances, each forgotten three
// intervals after its last beacon. [Discover] is `spacetime discover`: it
// listens for a while and prints what it found.
//
// # Wire format
//
// A datagram is one JSON object of at most [MaxDatagram] bytes:
//
//	{"beacon":{"service":"spacetime","instance_id":"…",…},"sig":"<hex>"}
//
// "beacon" is the [Beacon] object. "sig", present when the sender has a
// key, is the lowercase hex HMAC-SHA256, under the shared discovery key
// (DISCOVERY_KEY), of the exact bytes of the "beacon" value as they
// appear in the datagram, from its opening to its closing brace. A
// receiver verifies the signature over those raw bytes before it parses
// them, so no canonical JSON form is needed. Unknown members of either
// object are ignored, so later versions may add fields.
//
// # Trust
//
// A listener without a key accepts every well-formed beacon, signed or not
// (it cannot check a signature). A listener with a key drops unsigned
// beacons and beacons whose signature does not verify, and guards against
// replay: a signed beacon is accepted only when its timestamp is within
// ±30 s of the listener's clock and, for the same instance and start time,
// its sequence number is higher than the last one accepted (a later
// start time is a restarted instance and starts a new sequence).
//
// Nothing a datagram holds is fatal: oversized, malformed, foreign
// (another service), unsigned, badly signed and replayed datagrams are
// dropped and counted in [Stats].
package discovery
