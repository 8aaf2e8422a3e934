package discovery_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/discovery"
)

func TestDecode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("another key, also thirty-two b!!")
	good := beacon("a1", 1)
	signed := encode(t, good, key)
	unsigned := encode(t, good, nil)

	// tamper changes the beacon's bytes but keeps the signature.
	tamper := func(d []byte) []byte {
		return bytes.Replace(d, []byte(`"http_port":8080`), []byte(`"http_port":9999`), 1)
	}
	// hand signs an envelope written by hand over exactly body.
	hand := func(pre, body, post string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(body))
		return []byte(pre + body + post + hex.EncodeToString(m.Sum(nil)) + `"}`)
	}
	body, _ := json.Marshal(good)

	tests := []struct {
		name         string
		data         []byte
		key          []byte
		wantErr      error
		wantVerified bool
	}{
		{name: "unsigned, listener without key", data: unsigned},
		{name: "signed, listener without key", data: signed},
		{name: "signed, listener with key", data: signed, key: key, wantVerified: true},
		{name: "unsigned, listener with key", data: unsigned, key: key, wantErr: discovery.ErrUnsigned},
		{name: "signed with another key", data: signed, key: other, wantErr: discovery.ErrBadSignature},
		{name: "tampered after signing", data: tamper(signed), key: key, wantErr: discovery.ErrBadSignature},
		{name: "signature not hex", data: bytes.Replace(signed, []byte(`"sig":"`), []byte(`"sig":"zz`), 1), key: key, wantErr: discovery.ErrBadSignature},
		{name: "empty signature", data: []byte(`{"beacon":` + string(body) + `,"sig":""}`), key: key, wantErr: discovery.ErrUnsigned},
		{
			name:         "signature over the raw bytes, whitespace and all",
			data:         hand("{\n  \"sig_alg\": \"future\",\n  \"beacon\":   ", strings.Replace(string(body), ",", " ,\n ", 3), ",\n  \"sig\": \""),
			key:          key,
			wantVerified: true,
		},
		{name: "empty", data: nil, wantErr: discovery.ErrMalformed},
		{name: "not JSON", data: []byte("\x00\x01\xfe garbage"), wantErr: discovery.ErrMalformed},
		{name: "truncated", data: signed[:len(signed)/2], key: key, wantErr: discovery.ErrMalformed},
		{name: "no beacon", data: []byte(`{"sig":"00"}`), wantErr: discovery.ErrMalformed},
		{name: "null beacon", data: []byte(`{"beacon":null}`), wantErr: discovery.ErrMalformed},
		{name: "beacon is an array", data: []byte(`{"beacon":[1,2]}`), wantErr: discovery.ErrMalformed},
		{name: "top level array", data: []byte(`[{"beacon":{}}]`), wantErr: discovery.ErrMalformed},
		{name: "wrong field type", data: []byte(`{"beacon":{"service":"spacetime","instance_id":"x","http_port":"8080"}}`), wantErr: discovery.ErrMalformed},
		{name: "no instance id", data: []byte(`{"beacon":{"service":"spacetime"}}`), wantErr: discovery.ErrMalformed},
		{name: "port out of range", data: []byte(`{"beacon":{"service":"spacetime","instance_id":"x","http_port":70000}}`), wantErr: discovery.ErrMalformed},
		{name: "terminal escape in scene", data: []byte(`{"beacon":{"service":"spacetime","instance_id":"x","scene":"\u001b[2J"}}`), wantErr: discovery.ErrMalformed},
		{name: "bidi override in id", data: []byte(`{"beacon":{"service":"spacetime","instance_id":"a\u202eb"}}`), wantErr: discovery.ErrMalformed},
		{name: "instance id too long", data: []byte(`{"beacon":{"service":"spacetime","instance_id":"` + strings.Repeat("x", 129) + `"}}`), wantErr: discovery.ErrMalformed},
		{name: "another service", data: []byte(`{"beacon":{"service":"minecraft","instance_id":"x"}}`), wantErr: discovery.ErrForeign},
		{name: "no service", data: []byte(`{"beacon":{"instance_id":"x"}}`), wantErr: discovery.ErrForeign},
		{name: "oversized", data: append(bytes.Repeat([]byte(" "), discovery.MaxDatagram), unsigned...), wantErr: discovery.ErrOversized},
		{name: "exactly the limit", data: append(bytes.Repeat([]byte(" "), discovery.MaxDatagram-len(unsigned)), unsigned...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, verified, err := discovery.Decode(tc.data, tc.key)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Decode: error %v, want %v", err, tc.wantErr)
			}
			if verified != tc.wantVerified {
				t.Errorf("verified = %v, want %v", verified, tc.wantVerified)
			}
			if tc.wantErr == nil && !got.Timestamp.Equal(good.Timestamp) {
				t.Errorf("timestamp = %v, want %v", got.Timestamp, good.Timestamp)
			}
			if tc.wantErr == nil && (got.InstanceID != good.InstanceID || got.HTTPPort != good.HTTPPort || got.Scene != good.Scene) {
				t.Errorf("beacon = %+v, want %+v", got, good)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	key := []byte("k")
	tests := []struct {
		name    string
		b       discovery.Beacon
		key     []byte
		wantSig bool
		wantErr error
	}{
		{name: "unsigned", b: beacon("a", 1)},
		{name: "signed", b: beacon("a", 1), key: key, wantSig: true},
		{name: "too large", b: discovery.Beacon{Service: discovery.Service, InstanceID: "a", Scene: strings.Repeat("s", discovery.MaxDatagram)}, wantErr: discovery.ErrOversized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := discovery.Encode(tc.b, tc.key)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Encode: error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(d, &env); err != nil {
				t.Fatalf("datagram is not a JSON object: %v\n%s", err, d)
			}
			if _, ok := env["beacon"]; !ok {
				t.Errorf("no beacon member: %s", d)
			}
			if _, ok := env["sig"]; ok != tc.wantSig {
				t.Errorf("sig present = %v, want %v: %s", ok, tc.wantSig, d)
			}
		})
	}
}

func TestNewInstanceID(t *testing.T) {
	a, b := discovery.NewInstanceID(), discovery.NewInstanceID()
	if len(a) != 16 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("NewInstanceID() = %q, want 16 hex digits", a)
	}
	if a == b {
		t.Errorf("two NewInstanceID calls gave %q", a)
	}
}

// FuzzDecode: no datagram makes Decode panic, and an accepted beacon is
// always printable and bounded.
func FuzzDecode(f *testing.F) {
	key := []byte("fuzz key")
	for _, seed := range []string{
		`{"beacon":{"service":"spacetime","instance_id":"x"}}`,
		`{"beacon":{"service":"spacetime","instance_id":"x","seq":1},"sig":"00"}`,
		`{"beacon":null}`, `[]`, ``, `{"beacon":{"service":"spacetime","instance_id":"\u0000"}}`,
	} {
		f.Add([]byte(seed), false)
	}
	if d, err := discovery.Encode(beacon("seed", 1), key); err == nil {
		f.Add(d, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, keyed bool) {
		k := []byte(nil)
		if keyed {
			k = key
		}
		b, verified, err := discovery.Decode(data, k)
		if err != nil {
			return
		}
		if keyed != verified {
			t.Fatalf("verified = %v with key = %v", verified, keyed)
		}
		if b.InstanceID == "" || len(b.InstanceID) > 128 || b.Service != discovery.Service {
			t.Fatalf("accepted a bad beacon: %+v", b)
		}
	})
}
