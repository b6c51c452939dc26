package sbom

import scalibrlog "github.com/google/osv-scalibr/log"

// osv-scalibr logs what it skips to stderr. Every failure that matters
// reaches the catalog as a warning naming the file, so its log lines would
// only print the same things twice, unordered, in the middle of a report.
func init() {
	scalibrlog.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Error(...any)          {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Warn(...any)           {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Info(...any)           {}
func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Debug(...any)          {}
