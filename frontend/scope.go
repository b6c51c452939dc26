package frontend

import (
	"fmt"

	"github.com/secure-build/secure-build/policy"
)

// ArgScope is the build arg that overrides the policy's
// vulnerabilities.scope (all or added), as the plugin's --scope does.
const ArgScope = "SECURE_BUILD_SCOPE"

// readScope is the scope the build args set, "" when they set none.
func readScope(args map[string]string) (policy.Scope, error) {
	v, ok := args[ArgScope]
	if !ok {
		return "", nil
	}
	scope, err := policy.ParseScope(v)
	if err != nil {
		return "", fmt.Errorf("build arg %s: %w", ArgScope, err)
	}
	return scope, nil
}

// withScope applies the build arg's scope over the policy file's.
func withScope(p *policy.Policy, scope policy.Scope) *policy.Policy {
	if scope == "" {
		return p
	}
	q := *p
	q.Threshold.Scope = scope
	return &q
}
