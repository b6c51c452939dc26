package vuln

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseRecord: the importer's record parser never panics on any input,
// and what it accepts is stored and read back unchanged: every entry under
// a well-formed key, naming its record, with something to match.
// Seeds: testdata/fuzz/FuzzParseRecord.
func FuzzParseRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, entries, err := parseRecord(data)
		if err != nil || entries == nil {
			return
		}
		if rec.ID == "" {
			t.Fatalf("accepted a record without an id")
		}
		for key, es := range entries {
			eco, name, ok := strings.Cut(key, "\x00")
			if !ok || eco == "" || name == "" {
				t.Fatalf("entry key %q: want <ecosystem>\\x00<name>", key)
			}
			for _, e := range es {
				if e.ID != rec.ID {
					t.Fatalf("entry under %q names %q, not its record %q", key, e.ID, rec.ID)
				}
				if len(e.Ranges) == 0 && len(e.Versions) == 0 {
					t.Fatalf("entry under %q has neither ranges nor versions", key)
				}
			}
			stored, err := json.Marshal(es)
			if err != nil {
				t.Fatalf("store the entries of %q: %v", key, err)
			}
			var back []affectedEntry
			if err := json.Unmarshal(stored, &back); err != nil || !reflect.DeepEqual(back, es) {
				t.Fatalf("entries of %q read back as %+v (%v), stored %+v", key, back, err, es)
			}
		}
		stored, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("store the record: %v", err)
		}
		var back record
		if err := json.Unmarshal(stored, &back); err != nil || !reflect.DeepEqual(back, rec) {
			t.Fatalf("record read back as %+v (%v), stored %+v", back, err, rec)
		}
	})
}
