package telemetry

import (
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// newPrepared encodes payload once as a gorilla PreparedMessage of
// msgType (websocket.TextMessage or websocket.BinaryMessage): the server
// frame is built at once, from a copy of payload, and every writer that
// sends it with WritePreparedMessage writes the same bytes.
func newPrepared(msgType int, payload []byte) (*websocket.PreparedMessage, error) {
	return websocket.NewPreparedMessage(msgType, payload)
}

// closePayload is the payload of a close frame with code and reason, the
// reason cut (on a rune boundary) to fit the 125-byte control payload.
func closePayload(code int, reason string) []byte {
	const maxReason = 125 - 2
	if len(reason) > maxReason {
		n := maxReason
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	return websocket.FormatCloseMessage(code, reason)
}
