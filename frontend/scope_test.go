package frontend

import (
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
)

func TestScopeBuildArg(t *testing.T) {
	scope, err := readScope(map[string]string{})
	if err != nil || scope != "" {
		t.Errorf("no build arg: %q, %v; want no override", scope, err)
	}
	file := policy.Defaults()
	file.Threshold.Scope = policy.ScopeAdded
	if p := withScope(file, scope); p.Threshold.Scope != policy.ScopeAdded {
		t.Errorf("no build arg must keep the file's scope: %q", p.Threshold.Scope)
	}
	scope, err = readScope(map[string]string{ArgScope: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if p := withScope(file, scope); p.Threshold.Scope != policy.ScopeAll || file.Threshold.Scope != policy.ScopeAdded {
		t.Errorf("build arg all over a file's added: %q (file now %q)", p.Threshold.Scope, file.Threshold.Scope)
	}
	if _, err := readScope(map[string]string{ArgScope: "new"}); err == nil || !strings.Contains(err.Error(), ArgScope) || !strings.Contains(err.Error(), "want all or added") {
		t.Errorf("bad scope: %v, want an error naming %s", err, ArgScope)
	}
}
