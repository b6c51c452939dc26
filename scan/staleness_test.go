package scan

import (
	"strings"
	"testing"
	"time"
)

// TestStalenessOfYoungDatabase: an age under an hour is said in minutes and
// seconds, not rounded to the hour ("0s ago (more than 1m0s)"); a day-old
// one in hours and minutes.
func TestStalenessOfYoungDatabase(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		age, maxAge time.Duration
		want        string
	}{
		{3 * time.Minute, time.Minute, "last updated 3m0s ago (more than 1m0s)"},
		{90 * time.Second, time.Minute, "last updated 1m30s ago (more than 1m0s)"},
		{5*time.Hour + 12*time.Minute + 30*time.Second, time.Hour, "last updated 5h13m0s ago (more than 1h0m0s)"},
	} {
		got := Staleness("/db", map[string]time.Time{"npm": now.Add(-tc.age)}, tc.maxAge, now)
		if !strings.Contains(got, tc.want) {
			t.Errorf("age %v, max %v: %q, want it to say %q", tc.age, tc.maxAge, got, tc.want)
		}
	}
}
