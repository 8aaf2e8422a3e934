package configfiles

import (
	"encoding/json"
	"io/fs"
	"testing"
)

func TestFSHoldsEveryFile(t *testing.T) {
	want := []string{"scene_whitelist.json"}
	for _, env := range []string{"production", "staging", "development", "test"} {
		want = append(want, env+".json", "security_"+env+".json", "performance_"+env+".json")
	}
	for _, name := range want {
		data, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Errorf("embedded %s: %v", name, err)
			continue
		}
		if !json.Valid(data) {
			t.Errorf("embedded %s is not valid JSON", name)
		}
	}
}
